"""What a run would do, decided before anything is sent (README "Running the sync" and
"Guarantees", "`plan` sends nothing").

`build_plan` reads the warehouse; the only TikTok call is one read, per advertiser, of the
audiences set by `meta.tiktok.audience_id` (to compare them with the models), and only when given
a way to make it (`read_tiktok`): without an access token `tiktok-sync plan` still runs in CI and
says those audiences were not compared. `tiktok-sync run` builds the same plan first and sends
nothing if any selected audience is refused: a guard that trips means something upstream may be
wrong, and the safe default is to stop the whole run (pass the override, or leave that audience
out with `--audience`).

Guards (refuse, nothing sent): removing more than `max_removal_share` of what TikTok has
acknowledged (override `--allow-mass-removal`); creating a customer-file audience from fewer than
1,000 identifiers, which TikTok turns into a size-0 audience that can never be edited again
(docs/tiktok-api.md §3.8; override `--force`); a customer-file audience with more than one id
type (TikTok: one calculate_type per audience and every file of it, docs/tiktok-api.md §3.2-§3.4;
no override); an audience registered under another advertiser than the one it would now go to.
Blocked (nothing sent for that audience, the others sync, exit 2; sync/setting_changes.py): a
change of api TikTok cannot follow, two models in one TikTok audience, a configured audience id
TikTok does not have or whose type the model's api cannot write.
Warnings: an audience under 1,000 members (unusable for targeting, and customer-file updates
that leave it there fail, docs/tiktok-api.md §3.4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from sync.errors import ConfigError
from sync.setting_changes import setting_changes, shared_audiences
from sync.settings import TikTokSettings, WarehouseSettings
from sync.tiktok.client import TikTokClient
from sync.tiktok.lookup import HeldAudience, Lookup, audiences_at_tiktok
from sync.warehouse import (
    AudienceCounts,
    Orphan,
    RegistryEntry,
    Target,
    Warehouse,
    utc_now,
)

TIKTOK_MIN_AUDIENCE_SIZE = 1_000  # docs/tiktok-api.md §3.4, §3.8
DEFAULT_MAX_REMOVAL_SHARE = 0.2


@dataclass(frozen=True)
class PlanOptions:
    """What the user asked for; the defaults are the safe ones."""

    audiences: Sequence[str] | None = None
    max_removal_share: float = DEFAULT_MAX_REMOVAL_SHARE
    allow_mass_removal: bool = False
    force: bool = False
    full_refresh: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.max_removal_share <= 1:
            raise ConfigError(
                f"--max-removal-share must be between 0 and 1, got {self.max_removal_share}"
            )


@dataclass(frozen=True)
class AudiencePlan:
    """One audience: where it goes, what would be sent, and the guards' verdicts."""

    audience_key: str
    audience_name: str
    api: str  # streaming | customer_file
    mode: str  # mirror | add_only
    audience_id: str | None  # None: the run creates it
    advertiser_id: str
    retention_days: int | None
    adds: dict[str, int]  # per id type, what the run would send (all members on full refresh)
    removes: dict[str, int]  # per id type
    pending_adds: int  # rows in tiktok_audience_diff now
    pending_removes: int
    desired: dict[str, int]  # members per id type
    acknowledged_size: int
    rejected_identifiers: int
    full_refresh: bool
    # Members left out because they are suppressed (never sent; removed where TikTok holds them).
    suppressed_identifiers: int = 0
    pending_create: RegistryEntry | None = None  # a create a crashed run may have made
    audience_id_configured: bool = False  # meta.tiktok.audience_id, not created by the sync
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()  # settings TikTok cannot follow: this audience is not synced
    changes: tuple[str, ...] = ()  # setting changes the run applies at TikTok (a rename)
    tiktok_name: str | None = None  # the name the registry says TikTok holds, if the sync made it

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def desired_size(self) -> int:
        return sum(self.desired.values())

    @property
    def adds_total(self) -> int:
        return sum(self.adds.values())

    @property
    def removes_total(self) -> int:
        return sum(self.removes.values())

    @property
    def id_types(self) -> list[str]:
        return sorted(set(self.desired) | set(self.adds) | set(self.removes))


@dataclass(frozen=True)
class Plan:
    audiences: tuple[AudiencePlan, ...]
    orphans: tuple[Orphan, ...]
    options: PlanOptions
    created_at: datetime
    notes: tuple[str, ...] = field(default=())

    @property
    def refused(self) -> bool:
        return any(a.refused for a in self.audiences)


def build_plan(
    warehouse: Warehouse,
    tiktok: TikTokSettings,
    audiences: Sequence[str] | None = None,
    *,
    max_removal_share: float = DEFAULT_MAX_REMOVAL_SHARE,
    allow_mass_removal: bool = False,
    force: bool = False,
    full_refresh: bool = False,
) -> Plan:
    """The plan for the selected audiences (default all), from the warehouse alone."""
    options = PlanOptions(audiences, max_removal_share, allow_mass_removal, force, full_refresh)
    return plan_from_warehouse(warehouse, tiktok, options)


# Asks TikTok about audience ids, per advertiser (sync.tiktok.lookup.audiences_at_tiktok).
ReadTikTok = Callable[[Mapping[str, Sequence[str]]], Lookup]


def plan_from_warehouse(
    warehouse: Warehouse,
    tiktok: TikTokSettings,
    options: PlanOptions,
    read_tiktok: ReadTikTok | None = None,
) -> Plan:
    every_target = warehouse.targets()
    sharing = shared_audiences(every_target)
    targets = _select(every_target, options.audiences)
    orphans = warehouse.orphans_soon()  # beside the counts
    counts = warehouse.counts([t.audience_key for t in targets], every_target)
    retention = warehouse.created_retention()
    registry = {
        key: replace(entry, retention_recorded=True, retention_days=retention[key])
        if key in retention
        else entry
        for key, entry in warehouse.registry().items()
    }
    at_tiktok, notes = _configured_at_tiktok(targets, tiktok, read_tiktok)
    plans = tuple(
        plan_audience(
            target,
            counts.get(target.audience_key, AudienceCounts.empty()),
            registry.get(target.audience_key),
            tiktok,
            options,
            sharing.get(target.audience_key, []),
            at_tiktok,
        )
        for target in targets
    )
    if not targets:
        notes.append(
            "no audiences are defined: add a model under models/audiences/ and run `dbt build`"
        )
    # A mistyped opt-out suppresses nothing; dbt build only warns, and a scheduled run is
    # where someone looks.
    if unusable := warehouse.suppression_values_suppressing_nothing():
        notes.append(
            f"{unusable:,} value(s) of the suppression list suppress nothing (a mistyped "
            "email, a phone without a country): fix them in the list; "
            "tiktok_suppression_entries where reason_code is not null shows each and why"
        )
    return Plan(plans, tuple(orphans()), options, utc_now(), tuple(notes))


def _configured_at_tiktok(
    targets: Sequence[Target], tiktok: TikTokSettings, read_tiktok: ReadTikTok | None
) -> tuple[dict[str, HeldAudience | None], list[str]]:
    """What TikTok holds under each selected meta.tiktok.audience_id, with notes on what could
    not be asked. One read per advertiser: the audiences the sync created need none, the
    registry says what TikTok holds for them."""
    wanted: dict[str, list[str]] = {}
    for target in targets:
        advertiser = target.advertiser_id or tiktok.advertiser_id
        if target.is_audience_id_configured and target.audience_id and advertiser:
            ids = wanted.setdefault(advertiser, [])
            if target.audience_id not in ids:
                ids.append(target.audience_id)
    if not wanted:
        return {}, []
    if read_tiktok is None:
        return {}, [
            "audiences set by meta.tiktok.audience_id were not compared with TikTok (their type "
            "and name): no access token; run `tiktok-sync auth`, or set TIKTOK_ACCESS_TOKEN"
        ]
    lookup = read_tiktok(wanted)
    notes = [
        f"could not read audiences {', '.join(wanted[advertiser])} (meta.tiktok.audience_id) "
        f"of advertiser {advertiser} from TikTok ({error}); they were not compared with TikTok"
        for advertiser, error in lookup.failed.items()
    ]
    return lookup.held, notes


def _select(targets: list[Target], wanted: Sequence[str] | None) -> list[Target]:
    if not wanted:
        return targets
    known = {t.audience_key for t in targets}
    unknown = [name for name in dict.fromkeys(wanted) if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none (run `dbt build`)"
        raise ConfigError(
            f"unknown audience {', '.join(repr(u) for u in unknown)}; --audience takes a model "
            f"name, known: {listed}"
        )
    chosen = set(wanted)
    return [t for t in targets if t.audience_key in chosen]


def plan_audience(
    target: Target,
    counts: AudienceCounts,
    registered: RegistryEntry | None,
    tiktok: TikTokSettings,
    options: PlanOptions,
    sharing: list[str] | None = None,
    at_tiktok: Mapping[str, HeldAudience | None] | None = None,
) -> AudiencePlan:
    """One audience's plan from the warehouse's facts about it (pure; no I/O). `sharing`: the
    other audience keys that sync into this one's TikTok audience; `at_tiktok`: what TikTok
    said of the configured audience ids it was asked about (None: no such audience)."""
    key = target.audience_key
    advertiser = target.advertiser_id or tiktok.advertiser_id
    if advertiser is None:
        raise ConfigError(
            f"no TikTok advertiser for audience {key}: pass --advertiser-id or set "
            "TIKTOK_ADVERTISER_ID (or meta.tiktok.advertiser_id in the model)"
        )
    refusals: list[str] = []
    warnings: list[str] = []
    acknowledged = sum(counts.acknowledged.values())
    removes = dict(counts.pending_removes)
    # Full refresh re-sends every desired member (the segment API cannot list members, and a
    # customer-file REPLACE carries the whole set); removes still come from the diff.
    adds = dict(counts.desired) if options.full_refresh else dict(counts.pending_adds)
    desired_size = sum(counts.desired.values())
    removes_total = sum(removes.values())

    registered_advertiser = target.registered_advertiser_id
    if registered_advertiser is not None and registered_advertiser != advertiser:
        refusals.append(
            f"registered under advertiser {registered_advertiser} (tiktok_sync_audience_registry) "
            f"but configured for {advertiser}; an audience id exists under one advertiser only. "
            f"Restore meta.tiktok.advertiser_id {registered_advertiser}; to move the audience "
            f"to {advertiser}, rename model {key}: the new audience key gets a new audience "
            "there with every member, and the old one becomes an orphan, left alone"
        )
    elif (
        tiktok.advertiser_id is not None
        and target.advertiser_id is not None
        and target.configured_advertiser_id is None
        and target.advertiser_id != tiktok.advertiser_id
    ):
        warnings.append(
            f"lives under advertiser {target.advertiser_id} (where it was created), not "
            f"--advertiser-id {tiktok.advertiser_id}"
        )

    if removes_total and not options.allow_mass_removal:
        # What TikTok may hold: the acknowledged members, and adds sent without an answer
        # (removing those after their member left is routine, not a mass removal). Removes of
        # suppressed identifiers count too: a suppression list pointed at the wrong model
        # empties audiences just like a broken audience model (docs/decisions/0002).
        unconfirmed = sum(counts.unconfirmed_adds.values())
        held = acknowledged + unconfirmed
        if removes_total > options.max_removal_share * held:
            share = removes_total / held if held else 1.0
            of = f"{held:,} acknowledged members"
            if unconfirmed:
                of = (
                    f"{held:,} members TikTok may hold ({acknowledged:,} acknowledged, "
                    f"{unconfirmed:,} sent without an answer)"
                )
            refusals.append(
                f"would remove {removes_total:,} of {of} ({share:.0%}), more than "
                f"--max-removal-share {options.max_removal_share:.0%}; "
                "check the model's output, then pass --allow-mass-removal"
            )

    if target.api == "customer_file":
        # One calculate_type per customer-file audience and per file (docs/tiktok-api.md §3.2-§3.4);
        # acknowledged types count too: they are what the TikTok audience already holds.
        types = sorted(set(counts.desired) | set(counts.acknowledged))
        if len(types) > 1:
            refusals.append(
                f"is a customer_file audience with {len(types)} id types ({', '.join(types)}); "
                "TikTok takes one identifier type per customer-file audience. Split the model "
                "into one audience per id type, or use api 'streaming'"
            )
        if target.audience_id is None and desired_size < TIKTOK_MIN_AUDIENCE_SIZE:
            if not options.force:
                refusals.append(
                    f"would create a customer-file audience from {desired_size:,} identifiers; "
                    f"TikTok leaves one under {TIKTOK_MIN_AUDIENCE_SIZE:,} at size 0 and never "
                    "lets it be edited. Grow the audience, or pass --force"
                )
            elif desired_size == 0:
                warnings.append("has no members: nothing to create a customer-file audience from")

    if desired_size < TIKTOK_MIN_AUDIENCE_SIZE:
        why = (
            "TikTok refuses customer-file updates that leave it there"
            if target.api == "customer_file"
            else "TikTok will not let ads target it until it reaches that size"
        )
        warnings.append(
            f"has {desired_size:,} members, under TikTok's {TIKTOK_MIN_AUDIENCE_SIZE:,}: {why}"
        )

    pending_create = registered if registered and registered.audience_id is None else None
    if target.audience_id is None and pending_create is not None:
        earlier = pending_create.audience_name or target.audience_name
        warnings.append(
            f"a previous run stopped while creating it as {earlier!r}; the run looks for that "
            "audience by name before creating one"
        )
    verdict = setting_changes(target, registered, sharing or [], at_tiktok, advertiser)
    return AudiencePlan(
        audience_key=key,
        audience_name=target.audience_name,
        api=target.api,
        mode=target.mode,
        audience_id=target.audience_id,
        advertiser_id=advertiser,
        retention_days=target.retention_days,
        adds=adds,
        removes=removes,
        pending_adds=sum(counts.pending_adds.values()),
        pending_removes=removes_total,
        desired=dict(counts.desired),
        acknowledged_size=acknowledged,
        rejected_identifiers=counts.rejected,
        full_refresh=options.full_refresh,
        suppressed_identifiers=counts.suppressed,
        pending_create=pending_create,
        audience_id_configured=target.is_audience_id_configured,
        # A blocked audience is not synced at all, so what would refuse syncing it (a
        # customer-file check after an api change, say) must not stop the others as well.
        refusals=() if verdict.blocked else tuple(refusals),
        warnings=(*warnings, *verdict.warnings),
        blocked=verdict.blocked,
        changes=verdict.changes,
        tiktok_name=(
            registered.audience_name
            if registered is not None and registered.audience_id == target.audience_id
            else None
        ),
    )


def plan_sync(
    warehouse_settings: WarehouseSettings, tiktok: TikTokSettings, options: PlanOptions
) -> Plan:
    """`tiktok-sync plan`: open the warehouse read-only and build the plan; with an access token,
    compare the audiences set by meta.tiktok.audience_id with TikTok."""
    with Warehouse.open(warehouse_settings, read_only=True) as warehouse:
        if not tiktok.access_token:
            return plan_from_warehouse(warehouse, tiktok, options)
        with TikTokClient(tiktok.access_token, base_url=tiktok.api_base) as client:
            return plan_from_warehouse(
                warehouse, tiktok, options, partial(audiences_at_tiktok, client)
            )
