"""Looking at a setup without changing TikTok: the library behind `check` and `audiences`.

`run_checks` answers "will `tiktok-sync run` work, and if not, what do I fix first?": one result
per check (warehouse, dbt build, token, each advertiser, each audience), each OK, WARN or FAIL
with the fix. `audience_statuses` puts TikTok's view of every audience (matched size, validity,
expiry) next to the warehouse's (members, pending changes, last run), and appends TikTok's
sizes to `tiktok_sync_audience_size_history`, because TikTok shows sizes 24-48 h late and only
in Ads Manager (peers.md "No feedback loop"); in the warehouse they can be charted next to the
audience's definition.

Both only read from TikTok: `dmp/custom_audience/list/` and `dmp/custom_audience/get/`, and
`oauth2/advertiser/get/` when `check` has no advertiser to verify the token with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sync.credentials import (
    TOKEN_REJECTED_CODES,
    Diagnosis,
    diagnose,
    open_client,
    token_source,
)
from sync.errors import ConfigError, WarehouseError
from sync.settings import TikTokSettings, WarehouseSettings, load_tiktok, load_warehouse
from sync.tiktok import AudienceDetails, NotFoundError, RetryableError, TikTokClient, TikTokError
from sync.warehouse import REQUIRED_RELATIONS as SYNC_RELATIONS
from sync.warehouse import Warehouse, utc_now

# TikTok targets only audiences of 1,000+ matched users (docs/tiktok-api.md §3.8).
MIN_AUDIENCE_SIZE = 1_000

OK, WARN, FAIL = "OK", "WARN", "FAIL"

# What `check` and `audiences` read besides what a run needs.
REQUIRED_RELATIONS = (
    *SYNC_RELATIONS,
    "tiktok_audiences",
    "tiktok_audience_summary",
    "tiktok_sync_audience_size_history",
)

_UNDER_FLOOR_FIX = (
    "TikTok targets audiences of 1,000+ matched users only, and refuses customer-file updates "
    "that leave fewer; grow the audience (TikTok updates sizes 24-48 h after a change)"
)


# --- The warehouse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WarehouseAudience:
    """One configured audience as the warehouse sees it (tiktok_audience_summary + history)."""

    audience_key: str
    audience_name: str
    api: str
    mode: str
    audience_id: str | None
    advertiser_id: str | None
    is_audience_id_configured: bool
    members: int
    rejected: int
    pending_adds: int
    pending_removes: int
    last_run_id: str | None
    last_run_status: str | None
    last_run_finished_at: datetime | None


class WarehouseUnavailable(WarehouseError):
    """The warehouse is missing, locked or unreadable; `diagnosis` splits what and fix."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(f"{diagnosis.detail}; {diagnosis.fix}")
        self.diagnosis = diagnosis


@contextmanager
def connect(warehouse: WarehouseSettings, *, read_only: bool) -> Iterator[Warehouse]:
    """The dbt target's warehouse, closed on exit (relations not checked: the caller says what
    is missing); WarehouseUnavailable if it cannot be opened."""
    from sync.engines import open_engine

    try:
        engine = open_engine(warehouse, read_only=read_only)
    except WarehouseError as error:
        # Engines say "what; fix".
        detail, _, fix = str(error).rpartition("; ")
        raise WarehouseUnavailable(
            Diagnosis(WarehouseError, detail or str(error), fix or "check the dbt profile")
        ) from None
    connection = Warehouse(engine, warehouse)
    try:
        yield connection
    finally:
        connection.close()


def missing_relations(connection: Warehouse) -> list[str]:
    return connection.missing_relations(REQUIRED_RELATIONS)


def read_audiences(connection: Warehouse) -> list[WarehouseAudience]:
    """Every configured audience with its counts and its latest run, by audience key."""
    return [
        WarehouseAudience(
            audience_key=str(row[0]),
            audience_name=str(row[1] or row[0]),
            api=str(row[2]),
            mode=str(row[3]),
            audience_id=_opt_str(row[4]),
            advertiser_id=_opt_str(row[5]),
            is_audience_id_configured=bool(row[6]),
            members=int(row[7] or 0),
            rejected=int(row[8] or 0),
            pending_adds=int(row[9] or 0),
            pending_removes=int(row[10] or 0),
            last_run_id=_opt_str(row[11]),
            last_run_status=_opt_str(row[12]),
            last_run_finished_at=row[13],
        )
        for row in connection.audience_overview()
    ]


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


# --- TikTok ------------------------------------------------------------------------------------


def probe_advertiser(client: TikTokClient, advertiser_id: str) -> None:
    """One cheap authenticated read: the first audience of the advertiser's list, if any.

    `dmp/custom_audience/list/` with page_size 1 needs only the token (no app secret, which a
    scheduled sync should not hold) and proves in one request what a sync needs: TikTok accepts
    the token (else 40105/40102), the token reaches the advertiser (else 40001), and it may read
    its audiences (scope 30; docs/tiktok-api.md §2).
    """
    next(iter(client.list_custom_audiences(advertiser_id, page_size=1)), None)


def audience_details(
    client: TikTokClient, advertiser_id: str, audience_ids: Sequence[str]
) -> dict[str, AudienceDetails]:
    """TikTok's details of the audiences the advertiser has, by id; unknown ids are absent."""
    try:
        found = client.get_custom_audiences(advertiser_id, audience_ids)
    except NotFoundError:
        if len(audience_ids) <= 1:
            return {}
        # TikTok refuses the whole request for one id it does not know (40007): ask for each
        # alone to tell which ones are missing.
        return {
            audience_id: details
            for one in audience_ids
            for audience_id, details in audience_details(client, advertiser_id, [one]).items()
        }
    return {details.audience_id: details for details in found}


def tiktok_status(details: AudienceDetails | None, audience_id: str | None) -> str:
    """One word for the audience's state at TikTok; the raw flags go along in --json."""
    if audience_id is None:
        return "not created"
    if details is None:
        return "not found"
    if details.is_valid:
        return "expiring" if details.is_expiring else "ready"
    if "process" in (details.msg or "").lower():
        return "processing"
    # `is_valid` false: calculating, below TikTok's floor, or expired (docs/tiktok-api.md §3.5).
    return "not usable"


# --- check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class CheckReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(check.status != FAIL for check in self.checks)

    def to_json(self) -> dict[str, object]:
        return {"checks": [check.to_json() for check in self.checks], "ok": self.ok}


def _failed(name: str, diagnosis: Diagnosis) -> Check:
    return Check(name, FAIL, diagnosis.detail, diagnosis.fix)


def run_checks(
    *,
    project_dir: str,
    profiles_dir: str | None,
    target: str | None,
    api_base: str | None,
    advertiser_id: str | None,
    credentials_file: str | None,
    max_duration: float | None = None,
) -> CheckReport:
    """Every check in order; later checks run only where the earlier ones they need passed.

    `max_duration` bounds the time spent talking to TikTok (every request and retry).
    """
    checks: list[Check] = []
    audiences = _warehouse_checks(checks, project_dir, profiles_dir, target)
    try:
        settings = load_tiktok(
            api_base=api_base, advertiser_id=advertiser_id, credentials_file=credentials_file
        )
    except ConfigError as error:
        checks.append(Check("settings", FAIL, "the TikTok settings cannot be read", str(error)))
        return CheckReport(checks)
    _tiktok_checks(checks, settings, credentials_file, audiences or [], max_duration)
    return CheckReport(checks)


def _warehouse_checks(
    checks: list[Check], project_dir: str, profiles_dir: str | None, target: str | None
) -> list[WarehouseAudience] | None:
    try:
        warehouse = load_warehouse(project_dir, profiles_dir, target)
    except ConfigError as error:
        checks.append(
            Check("warehouse", FAIL, "the dbt profile names no usable warehouse", str(error))
        )
        return None
    try:
        with connect(warehouse, read_only=True) as connection:
            checks.append(Check("warehouse", OK, f"{warehouse.where} (target {warehouse.target})"))
            missing = missing_relations(connection)
            if missing:
                checks.append(
                    Check(
                        "dbt build",
                        FAIL,
                        f"schema {warehouse.schema} lacks {', '.join(missing)}",
                        "run dbt build (it creates the sync tables and the audience views)",
                    )
                )
                return None
            audiences = read_audiences(connection)
    except WarehouseUnavailable as error:
        checks.append(_failed("warehouse", error.diagnosis))
        return None
    except WarehouseError as error:
        checks.append(
            Check(
                "dbt build",
                FAIL,
                f"the audience views cannot be read ({error})",
                "run dbt build; if it fails, fix what it reports first",
            )
        )
        return None
    if not audiences:
        checks.append(
            Check(
                "dbt build",
                WARN,
                "no audiences are defined",
                "add a model under models/audiences/ and run dbt build",
            )
        )
    else:
        checks.append(Check("dbt build", OK, f"{len(audiences)} audiences defined"))
    return audiences


def _tiktok_checks(
    checks: list[Check],
    settings: TikTokSettings,
    credentials_file: str | None,
    audiences: list[WarehouseAudience],
    max_duration: float | None = None,
) -> None:
    if not settings.access_token:
        checks.append(
            Check(
                "token",
                FAIL,
                "no access token: TIKTOK_ACCESS_TOKEN is not set and the credentials file has none",
                "run `tiktok-sync auth` to get and save one, or set TIKTOK_ACCESS_TOKEN",
            )
        )
        return
    by_advertiser: dict[str, list[WarehouseAudience]] = defaultdict(list)
    if settings.advertiser_id:
        by_advertiser[settings.advertiser_id] = []
    unassigned = []
    for audience in audiences:
        chosen = audience.advertiser_id or settings.advertiser_id
        if chosen:
            by_advertiser[chosen].append(audience)
        else:
            unassigned.append(audience.audience_key)
    with open_client(settings, max_duration) as client:
        token, per_advertiser = _verify_token(
            client, settings, token_source(credentials_file), sorted(by_advertiser)
        )
        checks.append(token)
        if token.status == FAIL:
            return  # nothing further can be learnt from TikTok with this token
        checks.extend(per_advertiser.values())
        if unassigned or not by_advertiser:
            which = f" for {', '.join(unassigned)}" if unassigned else ""
            checks.append(
                Check(
                    "advertiser",
                    FAIL,
                    f"no advertiser is configured{which}",
                    "pass --advertiser-id or set TIKTOK_ADVERTISER_ID (`tiktok-sync advertisers` "
                    "lists those the token reaches), or set meta.tiktok.advertiser_id in the model",
                )
            )
        for advertiser, result in per_advertiser.items():
            if result.status == OK:
                checks.extend(_audience_checks(client, advertiser, by_advertiser[advertiser]))


def _verify_token(
    client: TikTokClient, settings: TikTokSettings, source: str, advertisers: list[str]
) -> tuple[Check, dict[str, Check]]:
    """The token check, and one check per advertiser, from as few requests as it takes.

    With advertisers to sync to, one `probe_advertiser` each (no app secret needed). Without
    any, `oauth2/advertiser/get/` when the app id and secret are at hand, which also says
    which advertisers to configure; else the token cannot be verified.
    """
    per_advertiser: dict[str, Check] = {}
    for advertiser in advertisers:
        try:
            probe_advertiser(client, advertiser)
        except TikTokError as error:
            diagnosis = diagnose(error, advertiser_id=advertiser)
            if error.code in TOKEN_REJECTED_CODES or isinstance(error, RetryableError):
                return _token_failed(diagnosis, source), {}
            per_advertiser[advertiser] = _failed(f"advertiser {advertiser}", diagnosis)
        else:
            per_advertiser[advertiser] = Check(
                f"advertiser {advertiser}", OK, "the token can manage it"
            )
    accepted = f"TikTok accepts the token from {source}"
    if advertisers:
        return Check("token", OK, accepted), per_advertiser
    if settings.app_id and settings.app_secret:
        try:
            reachable = client.get_authorized_advertisers(settings.app_id, settings.app_secret)
        except TikTokError as error:
            return _token_failed(diagnose(error), source), {}
        ids = ", ".join(a.advertiser_id for a in reachable) or "none"
        return Check("token", OK, f"{accepted}; it can manage advertisers {ids}"), {}
    return (
        Check(
            "token",
            WARN,
            f"a token is set ({source}) but unverified: no advertiser to ask TikTok about",
            "configure the advertiser (below); check then verifies the token with it",
        ),
        {},
    )


def _token_failed(diagnosis: Diagnosis, source: str) -> Check:
    return Check("token", FAIL, f"{diagnosis.detail}; token from {source}", diagnosis.fix)


def _audience_checks(
    client: TikTokClient, advertiser_id: str, audiences: list[WarehouseAudience]
) -> list[Check]:
    ids = [a.audience_id for a in audiences if a.audience_id]
    found: dict[str, AudienceDetails] = {}
    if ids:
        try:
            found = audience_details(client, advertiser_id, ids)
        except TikTokError as error:
            diagnosis = diagnose(error, advertiser_id=advertiser_id)
            return [_failed(f"audience {a.audience_key}", diagnosis) for a in audiences]
    return [_audience_check(a, advertiser_id, found) for a in audiences]


def _audience_check(
    audience: WarehouseAudience, advertiser_id: str, found: Mapping[str, AudienceDetails]
) -> Check:
    name = f"audience {audience.audience_key}"
    members = f"{audience.members:,} members in the warehouse"
    if audience.audience_id is None:
        if audience.members < MIN_AUDIENCE_SIZE:
            return Check(name, WARN, f"not created yet; {members}, under 1,000", _UNDER_FLOOR_FIX)
        return Check(name, OK, f"not created yet (the next run creates it); {members}")
    details = found.get(audience.audience_id)
    if details is None:
        if audience.is_audience_id_configured:
            fix = (
                f"correct meta.tiktok.audience_id of model {audience.audience_key}, or remove it "
                "to let the sync create the audience"
            )
        else:
            fix = (
                "if it was deleted in TikTok, run `tiktok-sync run --recreate-missing`: it creates "
                "again, with all its members, each audience the sync made that TikTok no longer "
                "has (or delete the model); if it is another advertiser's, set "
                "meta.tiktok.advertiser_id in the model"
            )
        return Check(
            name,
            FAIL,
            f"TikTok has no audience {audience.audience_id} under advertiser {advertiser_id}",
            fix,
        )
    matched = details.cover_num
    detail = (
        f"TikTok audience {details.audience_id} ({tiktok_status(details, details.audience_id)}): "
        f"{'unknown' if matched is None else f'{matched:,}'} matched users; {members}"
    )
    if audience.members < MIN_AUDIENCE_SIZE or (
        matched is not None and matched < MIN_AUDIENCE_SIZE
    ):
        return Check(name, WARN, detail + "; under 1,000", _UNDER_FLOOR_FIX)
    if details.is_expiring:
        return Check(
            name,
            WARN,
            f"{detail}; expires {details.expired_time or 'within 60 days'}",
            "TikTok deletes expired audiences; a change to it or use in an active ad group "
            "extends an audience without fixed retention (docs/tiktok-api.md §3.3)",
        )
    return Check(name, OK, detail)


# --- audiences ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceStatus:
    """An audience in the warehouse and at TikTok, side by side."""

    audience: WarehouseAudience
    advertiser_id: str | None
    status: str
    details: AudienceDetails | None

    def to_json(self) -> dict[str, object]:
        a, d = self.audience, self.details
        finished = a.last_run_finished_at
        return {
            "audience_key": a.audience_key,
            "audience_name": a.audience_name,
            "api": a.api,
            "mode": a.mode,
            "advertiser_id": self.advertiser_id,
            "audience_id": a.audience_id,
            "status": self.status,
            "cover_num": d.cover_num if d else None,
            "is_valid": d.is_valid if d else None,
            "is_expiring": d.is_expiring if d else None,
            "expired_time": d.expired_time if d else None,
            "members": a.members,
            "rejected": a.rejected,
            "pending_adds": a.pending_adds,
            "pending_removes": a.pending_removes,
            "last_run": None
            if a.last_run_id is None
            else {
                "run_id": a.last_run_id,
                "status": a.last_run_status,
                "finished_at": finished.isoformat() if finished else None,
            },
        }


@dataclass(frozen=True)
class AudiencesReport:
    audiences: list[AudienceStatus]
    snapshot_at: datetime | None  # when the sizes were recorded; None if nothing was
    snapshot_rows: int

    def to_json(self) -> dict[str, object]:
        return {
            "audiences": [status.to_json() for status in self.audiences],
            "snapshot_at": None if self.snapshot_at is None else self.snapshot_at.isoformat(),
            "snapshot_rows": self.snapshot_rows,
        }


def audience_statuses(
    warehouse: WarehouseSettings, settings: TikTokSettings, *, snapshot: bool = True
) -> AudiencesReport:
    """Every configured audience with TikTok's view of it; append the sizes to the warehouse."""
    with connect(warehouse, read_only=True) as connection:
        missing = missing_relations(connection)
        if missing:
            raise WarehouseError(f"the warehouse lacks {', '.join(missing)}; run dbt build")
        audiences = read_audiences(connection)
    # The lock is released while TikTok answers: dbt or a sync run may use the file meanwhile.
    found = _fetch_all(audiences, settings)
    statuses = [
        AudienceStatus(
            audience=a,
            advertiser_id=a.advertiser_id or settings.advertiser_id,
            status=tiktok_status(found.get(a.audience_id or ""), a.audience_id),
            details=found.get(a.audience_id or ""),
        )
        for a in audiences
    ]
    rows = [s for s in statuses if s.details is not None]
    if not snapshot or not rows:
        return AudiencesReport(statuses, None, 0)
    taken_at = utc_now()  # naive UTC, like the state tables
    _append_sizes(warehouse, taken_at, rows)
    return AudiencesReport(statuses, taken_at, len(rows))


def _fetch_all(
    audiences: list[WarehouseAudience], settings: TikTokSettings
) -> dict[str, AudienceDetails]:
    wanted: dict[str, list[str]] = defaultdict(list)
    for audience in audiences:
        if audience.audience_id is None:
            continue
        advertiser = audience.advertiser_id or settings.advertiser_id
        if advertiser is None:
            raise ConfigError(
                f"audience {audience.audience_key} has TikTok id {audience.audience_id} but no "
                "advertiser; pass --advertiser-id or set TIKTOK_ADVERTISER_ID"
            )
        wanted[advertiser].append(audience.audience_id)
    if not wanted:
        return {}
    if not settings.access_token:
        raise ConfigError(
            "no access token: run `tiktok-sync auth` to get and save one, or set "
            "TIKTOK_ACCESS_TOKEN"
        )
    found: dict[str, AudienceDetails] = {}
    with open_client(settings) as client:
        for advertiser, ids in wanted.items():
            try:
                found.update(audience_details(client, advertiser, ids))
            except TikTokError as error:
                raise diagnose(error, advertiser_id=advertiser).error() from None
    return found


def _append_sizes(
    warehouse: WarehouseSettings, taken_at: datetime, statuses: list[AudienceStatus]
) -> None:
    rows = [
        (
            taken_at,
            s.audience.audience_key,
            s.audience.audience_id,
            s.advertiser_id,
            s.audience.api,
            s.details.cover_num if s.details else None,
            s.details.is_valid if s.details else None,
            s.details.is_expiring if s.details else None,
        )
        for s in statuses
    ]
    with connect(warehouse, read_only=False) as connection:
        try:
            connection.append_size_history(rows)
        except WarehouseError as error:
            raise WarehouseError(
                f"cannot append to tiktok_sync_audience_size_history ({error}); run dbt build "
                "to create it"
            ) from None
