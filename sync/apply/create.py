"""Create once, adopt a lost create, and recreate an audience deleted at TikTok.

Create once (README "Guarantees", "No duplicate audiences"; docs/tiktok-api.md §7: TikTok has no
idempotency keys and allows duplicate names): a registry row with no audience id is written before
the create call and gets the id as soon as TikTok returns it. A row still without an id means an
earlier run may have created the audience and crashed before recording it; so does an
`AmbiguousWriteError` (timeout, dropped connection or 5xx after sending a create). Either way the
run lists the advertiser's audiences and adopts one of that exact name and type created since the
pending row. After a crash it creates only if none is there; after an ambiguous create it does not
create again in the same run, since a create TikTok answers after the client's timeout may still be
applied: the row stays pending and the next run looks again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sync.apply.context import Context, check_time
from sync.apply.customer_file import upload_members
from sync.apply.results import AudienceResult, ErrorInfo
from sync.plan import TIKTOK_MIN_AUDIENCE_SIZE, AudiencePlan, Plan
from sync.tiktok import AmbiguousWriteError, TikTokError
from sync.tiktok.lookup import AUDIENCE_TYPES, audience_at_tiktok, audiences_at_tiktok
from sync.tiktok.models import CreatedId
from sync.warehouse import Freeze, RegistryEntry

# TikTok's create_time has whole seconds and the two clocks differ a little: look back this far
# before the pending row's created_at when adopting an audience.
CLOCK_SKEW = timedelta(minutes=10)

# --- create once -------------------------------------------------------------------------------


def create_once(
    ctx: Context,
    ap: AudiencePlan,
    result: AudienceResult,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[str | None, bool]:
    """The audience's id, created if need be; and whether this run created it with members.

    `meanwhile` runs on this thread while TikTok creates a streaming audience (the create
    goes out on one of the run's sending threads); only when a create is sent, and it must not
    raise (segment.EarlyFreeze keeps its failure for later).
    """
    key = ap.audience_key
    if ap.api == "customer_file" and ap.desired_size == 0:
        result.notes.append("not created: a customer-file audience needs members")
        return None, False
    check_time(ctx)
    pending = ap.pending_create
    if pending is not None:
        found = _find_created(ctx, ap, pending)
        if found is not None:
            return _adopt(ctx, ap, result, found), False
    # Customer files are uploaded before the create (which names them) and only once: a second
    # create attempt reuses them. Uploads create no audience, so they come before the pending
    # row.
    members: Freeze | None = None
    file_paths: list[str] = []
    if ap.api == "customer_file":
        members = ctx.warehouse.freeze_members(key, ap.id_types[0])
        file_paths, count = upload_members(ctx, ap, members)
    if pending is None:
        pending = ctx.warehouse.register_pending(
            key, ap.advertiser_id, ap.api, ap.audience_name, ctx.run_id
        )
    batch = None
    if members is not None:
        # Sent before the create: if its outcome is never known, the audience it may have
        # made holds these members, and they must be removed should they leave the SQL.
        batch = ctx.warehouse.batch(
            members,
            members.first_batch_no,
            kind="create",
            audience_id=None,
            advertiser_id=ap.advertiser_id,
            api=ap.api,
            identifier_count=count,
        )
        ctx.warehouse.batch_sent(batch)
    try:
        check_time(ctx)
        # What TikTok fixes at creation, for later runs to compare the settings with.
        ctx.warehouse.record_create_request(key, ap.api, ap.retention_days)
        created = _create(ctx, ap, file_paths, meanwhile)
    except AmbiguousWriteError as error:
        ctx.progress.note(key, f"the create may have happened ({error.message}); looking")
        found = _find_created(ctx, ap, pending)
        if found is not None:
            return _adopt(ctx, ap, result, found), False
        # Not there (yet): a create TikTok answered too late may still be applied, and creating
        # again now would make a second audience. The pending row stays; the next run looks
        # again before creating.
        raise
    except TikTokError as error:
        # Any other error means TikTok surely did not create it (the client turns every
        # doubtful failure of a create into AmbiguousWriteError): unless an earlier run left
        # the row pending, the next run need not look for it.
        ctx.warehouse.drop_pending(key, ctx.run_id)
        if batch is not None:
            ctx.warehouse.batch_refused(batch, request_id=error.request_id)
        raise
    audience_id = str(created)  # a plain str for the warehouse drivers
    ctx.warehouse.register_created(key, audience_id)
    ctx.taken_ids.add(audience_id)
    result.audience_id = audience_id
    result.notes.append(f"created TikTok audience {audience_id}")
    if batch is None:
        return audience_id, False
    # The files held every desired member: TikTok now has exactly that set.
    ctx.warehouse.batch_acknowledged(batch, audience_id=audience_id, request_id=created.request_id)
    result.adds_sent += ap.desired_size
    ctx.progress.sent(key, ap.desired_size)
    return audience_id, True


def _create(
    ctx: Context, ap: AudiencePlan, file_paths: list[str], meanwhile: Callable[[], None] | None
) -> CreatedId:
    if ap.api == "streaming":
        if meanwhile is None or ctx.senders is None:
            return ctx.client.create_segment_audience(ap.advertiser_id, ap.audience_name)
        creating = ctx.senders.submit(
            ctx.client.create_segment_audience, ap.advertiser_id, ap.audience_name
        )
        meanwhile()
        return creating.result()
    return ctx.client.create_custom_audience(
        ap.advertiser_id,
        ap.audience_name,
        ap.id_types[0],  # the plan refuses customer-file audiences with several id types
        file_paths,
        retention_in_days=ap.retention_days,
    )


def _adopt(ctx: Context, ap: AudiencePlan, result: AudienceResult, found: tuple[str, str]) -> str:
    audience_id, name = found
    ctx.warehouse.register_created(ap.audience_key, audience_id, name)
    result.tiktok_name = name
    ctx.taken_ids.add(audience_id)
    result.audience_id = audience_id
    result.notes.append(
        f"adopted TikTok audience {audience_id}: an earlier attempt created it, found by name"
    )
    return audience_id


def _find_created(ctx: Context, ap: AudiencePlan, pending: RegistryEntry) -> tuple[str, str] | None:
    """(id, name) of an audience of this type that our pending create may have made, if any.

    Looked up under the pending row's name as well as the configured one: the user may have
    changed meta.tiktok.audience_name since the create that was interrupted (which sent the
    pending row's name), and a later attempt sent the configured one.
    """
    wanted_type = AUDIENCE_TYPES[ap.api]
    names = {ap.audience_name, pending.audience_name or ap.audience_name}
    since = pending.created_at
    earliest = since - CLOCK_SKEW if since is not None else None
    candidates: list[tuple[datetime, str, str]] = []
    for audience in ctx.client.list_custom_audiences(ap.advertiser_id):
        if audience.name not in names or audience.audience_id in ctx.taken_ids:
            continue
        if audience.type is not None and audience.type != wanted_type:
            continue
        if audience.is_creator is False:  # shared with this advertiser, not made by it
            continue
        created = _parse_create_time(audience.create_time)
        if earliest is not None and created is not None and created < earliest:
            continue  # older than our first attempt: someone else's audience of that name
        candidates.append((created or datetime.max, audience.audience_id, audience.name))
    if not candidates:
        return None
    candidates.sort()
    if len(candidates) > 1:
        ctx.progress.note(
            ap.audience_key,
            f"{len(candidates)} audiences named {' or '.join(repr(n) for n in sorted(names))} "
            f"since the first attempt; adopting the oldest, {candidates[0][1]}",
        )
    _, audience_id, name = candidates[0]
    return audience_id, name


def _parse_create_time(value: str | None) -> datetime | None:
    # "YYYY-MM-DD HH:MM:SS" (docs/tiktok-api.md §3.5). Read as UTC, as the emulator writes it;
    # TikTok's zone is not documented (a guess, see the README).
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def deleted_at_tiktok(ctx: Context, advertiser_id: str, audience_id: str) -> bool:
    """TikTok says it has no audience of this id under the advertiser (one read)."""
    try:
        return audience_at_tiktok(ctx.client, advertiser_id, audience_id) is None
    except TikTokError:
        return False  # cannot tell: the original error stands


def gone_at_tiktok(ctx: Context, plan: Plan, notes: list[str]) -> set[str]:
    """--recreate-missing: the ids of the audiences the sync created that TikTok no longer has.

    Without this look-up a run learns of a deleted audience only when TikTok refuses one of its
    batches, so one with nothing to send would never be created again. If TikTok cannot be
    asked, none is taken for gone: a refused batch still leads to the recreate.
    """
    wanted: dict[str, list[str]] = {}
    for ap in plan.audiences:
        if ap.audience_id is not None and not ap.audience_id_configured and not ap.blocked:
            wanted.setdefault(ap.advertiser_id, []).append(ap.audience_id)
    lookup = audiences_at_tiktok(ctx.client, wanted)
    notes.extend(
        f"could not ask TikTok which audiences of advertiser {advertiser} still exist "
        f"({error}); --recreate-missing recreates one only when TikTok refuses its changes"
        for advertiser, error in lookup.failed.items()
    )
    return {audience_id for audience_id, held in lookup.held.items() if held is None}


def recreatable(
    ctx: Context, ap: AudiencePlan, result: AudienceResult, code: int | None
) -> AudiencePlan | None:
    """The plan to create a deleted audience again, or None with the reason in `result`.

    Never on its own: a deleted audience may have been deleted on purpose, and recreating it
    gives it a new id that campaigns do not target yet; `--recreate-missing` says so.
    """
    key, old = ap.audience_key, ap.audience_id
    where = f"TikTok has no audience {old} under advertiser {ap.advertiser_id} any more"
    fix: str | None = None
    if ap.audience_id_configured:
        fix = (
            f"correct meta.tiktok.audience_id of model {key}, or remove it to let the sync "
            "create the audience"
        )
    elif not ctx.recreate_missing:
        fix = (
            f"if it was deleted on purpose, delete model {key} too; to create it again and send "
            f"its {ap.desired_size:,} members, run with --recreate-missing"
        )
    elif ap.api == "customer_file" and ap.desired_size < TIKTOK_MIN_AUDIENCE_SIZE and not ctx.force:
        fix = (
            f"it would be created again from {ap.desired_size:,} identifiers, under TikTok's "
            f"{TIKTOK_MIN_AUDIENCE_SIZE:,}; grow the audience, or pass --force as well"
        )
    if fix is not None:
        result.error = ErrorInfo(code, f"{where} (deleted in Ads Manager?): {fix}", None)
        result.needs_action = True
        return None
    return replace(
        ap,
        audience_id=None,
        pending_create=None,
        adds=dict(ap.desired),
        removes={},
    )
