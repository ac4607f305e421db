"""What a change of an audience's settings between runs does (README "Changing an audience's
settings"), decided by the plan before anything is sent.

The registry (`tiktok_sync_audience_registry`) records what TikTok holds for each audience the
sync job created: its id, api and name. A setting that now differs from it is

- applied by the run: a customer-file audience is renamed at TikTok (`dmp/custom_audience/update/`
  with a name and no files, docs/tiktok-api.md §3.4);
- shown and left: a streaming audience keeps its name, since TikTok's segment API has no rename
  (docs/tiktok-api.md §4.1 has create and delete only); a customer-file audience keeps the
  retention it was created with (tiktok_sync_create_requests), which TikTok's update endpoint
  cannot change, and keeps syncing: its members matter more than when TikTok lets it expire;
- or it blocks the audience: nothing is sent for it, the other audiences sync, and the run (and
  `plan`) exits 2 with the fix. TikTok cannot turn a Partner (segment) audience into a customer-file
  one or back, and two models syncing into one TikTok audience would each remove the other's
  members while the ledger says both are in step.

An audience set by `meta.tiktok.audience_id` is not in the registry: the plan compares it with
what TikTok says of that id (one read per advertiser and run, sync/tiktok/lookup.py). An id TikTok
does not have under the advertiser, or an audience of a type the model's api cannot write,
blocks it; a name other than `meta.tiktok.audience_name` is shown, since the sync never renames an
audience it did not create.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sync.tiktok.lookup import AUDIENCE_TYPES, HeldAudience
from sync.warehouse import RegistryEntry, Target


@dataclass(frozen=True)
class SettingChanges:
    """One audience's verdict on its settings against what TikTok holds."""

    blocked: tuple[str, ...] = ()  # nothing is sent for the audience; the run exits 2
    changes: tuple[str, ...] = ()  # what the run changes at TikTok besides members
    warnings: tuple[str, ...] = ()


def shared_audiences(targets: Iterable[Target]) -> dict[str, list[str]]:
    """Each audience key whose TikTok audience id another model also syncs into, with those
    other keys. Over every configured audience, not only the selected ones: `--audience` must not
    hide the model that would undo this one's work."""
    keys_by_id: dict[str, list[str]] = {}
    for target in targets:
        if target.audience_id is not None:
            keys_by_id.setdefault(target.audience_id, []).append(target.audience_key)
    return {
        key: [other for other in keys if other != key]
        for keys in keys_by_id.values()
        if len(keys) > 1
        for key in keys
    }


def setting_changes(
    target: Target,
    registered: RegistryEntry | None,
    sharing: list[str],
    at_tiktok: Mapping[str, HeldAudience | None] | None = None,
    advertiser: str | None = None,
) -> SettingChanges:
    """`at_tiktok`: what TikTok holds under the audience ids it was asked about in `advertiser`
    (None: no audience of that id there); an audience set by meta.tiktok.audience_id is compared
    with it when its id is there."""
    blocked: list[str] = []
    changes: list[str] = []
    warnings: list[str] = []
    key = target.audience_key
    held_ids, audience_id = at_tiktok or {}, target.audience_id
    if target.is_audience_id_configured and audience_id is not None and audience_id in held_ids:
        _compare_configured(target, held_ids[audience_id], advertiser, blocked, warnings)
    if sharing:
        others = ", ".join(sharing)
        blocked.append(
            f"syncs into TikTok audience {target.audience_id}, as does model {others}; two "
            "models in one audience remove each other's members. Give each model its own "
            "audience: change or remove meta.tiktok.audience_id of one of them"
        )
    # The registry speaks for the audience the run would sync into: the one the sync created
    # (or is creating), unless meta.tiktok.audience_id points elsewhere.
    recorded = registered is not None and (
        registered.audience_id is None or registered.audience_id == target.audience_id
    )
    if not recorded or registered is None:
        return SettingChanges(tuple(blocked), tuple(changes), tuple(warnings))
    held = registered.audience_id or "(being created)"
    if registered.api is not None and registered.api != target.api:
        blocked.append(
            f"meta.tiktok.api changed from '{registered.api}' to '{target.api}', but TikTok "
            f"audience {held} is a {registered.api} audience and TikTok cannot change an "
            f"audience's type. Restore api '{registered.api}', or rename model {key} so the "
            f"sync creates a new {target.api} audience (the old one is then listed in "
            "tiktok_orphaned_audiences and left alone)"
        )
    old_name = registered.audience_name
    if old_name is not None and old_name != target.audience_name:
        if target.api == "customer_file":
            changes.append(
                f"renames TikTok audience {held} from {old_name!r} to {target.audience_name!r}"
            )
        else:
            warnings.append(
                f"keeps its TikTok name {old_name!r}: TikTok's segment API cannot rename an "
                f"audience (meta.tiktok.audience_name is now {target.audience_name!r}); rename "
                "it in Ads Manager if you need to"
            )
    # A create still open may be adopted (made with the retention recorded) or sent again (with
    # the new one): only an audience TikTok surely made is compared.
    created = registered.audience_id is not None and registered.retention_recorded
    if target.api == "customer_file" and created:
        old_days, new_days = registered.retention_days, target.retention_days
        if old_days != new_days:
            restore = (
                "remove meta.tiktok.retention_days again"
                if old_days is None
                else f"restore meta.tiktok.retention_days {old_days}"
            )
            warnings.append(
                f"keeps the retention TikTok audience {held} was created with "
                f"({_retention(old_days)}; meta.tiktok.retention_days is now "
                f"{_retention(new_days)}): TikTok fixes retention_in_days at creation. To apply "
                f"it, rename model {key} so the sync creates a new audience with it (the old one "
                f"is then listed in tiktok_orphaned_audiences and left alone); or {restore}"
            )
    return SettingChanges(tuple(blocked), tuple(changes), tuple(warnings))


def _retention(days: int | None) -> str:
    return "TikTok's default" if days is None else f"{days} days"


def _compare_configured(
    target: Target,
    held: HeldAudience | None,
    advertiser: str | None,
    blocked: list[str],
    warnings: list[str],
) -> None:
    key, audience_id, api = target.audience_key, target.audience_id, target.api
    if held is None:
        blocked.append(
            f"TikTok has no audience {audience_id} (meta.tiktok.audience_id) under advertiser "
            f"{advertiser}: correct meta.tiktok.audience_id of model {key}, or remove it to let "
            "the sync create the audience"
        )
        return
    # A type TikTok did not give leaves nothing to compare the api with.
    if held.type is not None and held.api is None:
        writable = ", ".join(f"{kind!r} (api {a!r})" for a, kind in AUDIENCE_TYPES.items())
        blocked.append(
            f"TikTok audience {audience_id} (meta.tiktok.audience_id) is a {held.type!r} "
            f"audience, which the sync cannot write: only {writable}. Point "
            f"meta.tiktok.audience_id of model {key} at one of those, or remove it to let the "
            "sync create the audience"
        )
        return
    if held.type is not None and held.api != api:
        blocked.append(
            f"meta.tiktok.api is {api!r} but TikTok audience {audience_id} "
            f"(meta.tiktok.audience_id) is a {held.api} audience ({held.type!r}), and TikTok "
            f"cannot change an audience's type. Set meta.tiktok.api {held.api!r} in model {key}, "
            f"or point its meta.tiktok.audience_id at a {api} audience (or remove it to let the "
            "sync create one)"
        )
    if held.name is not None and held.name != target.audience_name:
        warnings.append(
            f"keeps its TikTok name {held.name!r}: an audience set by meta.tiktok.audience_id "
            f"is never renamed (meta.tiktok.audience_name is {target.audience_name!r}); set "
            "meta.tiktok.audience_name to match, or rename it in Ads Manager"
        )
