"""What TikTok holds under some audience ids: one read per advertiser (100 ids a request).

Used to compare audiences set by `meta.tiktok.audience_id` with what they are at TikTok (their
type and name), and by `--recreate-missing` to find audiences deleted in Ads Manager. An id TikTok
does not return is taken for one it does not have under that advertiser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync.tiktok.client import TikTokClient
from sync.tiktok.errors import NotFoundError, TikTokError

# `audience_type` in dmp/custom_audience/list/ (`type` in get) of the audiences each api makes.
AUDIENCE_TYPES = {"streaming": "Partner", "customer_file": "Customer File Audience"}


@dataclass(frozen=True)
class HeldAudience:
    """One audience as TikTok describes it."""

    audience_id: str
    name: str | None
    type: str | None  # "Customer File Audience", "Partner" (segment API), "Lookalike", …

    @property
    def api(self) -> str | None:
        """The sync's api that writes this type of audience, None for a type it cannot write."""
        return next((api for api, kind in AUDIENCE_TYPES.items() if kind == self.type), None)


@dataclass(frozen=True)
class Lookup:
    """TikTok's answer: each id asked about, with its audience or None when TikTok has none of
    that id; advertisers TikTok could not be asked about are in `failed`, with the error."""

    held: dict[str, HeldAudience | None]
    failed: dict[str, str]


def audiences_at_tiktok(client: TikTokClient, wanted: Mapping[str, Sequence[str]]) -> Lookup:
    """Look up `wanted` (advertiser id -> audience ids): one list request per advertiser, filtered
    to the ids. Should TikTok refuse the filter for an id it does not know (as its get endpoint
    does, 40007), each id is asked about alone."""
    held: dict[str, HeldAudience | None] = {}
    failed: dict[str, str] = {}
    for advertiser, ids in wanted.items():
        if not ids:
            continue
        try:
            listed = {
                a.audience_id: HeldAudience(a.audience_id, a.name, a.type)
                for a in client.list_custom_audiences(advertiser, audience_ids=ids)
            }
            held |= {i: listed.get(i) for i in ids}
        except NotFoundError:
            try:
                held |= {i: audience_at_tiktok(client, advertiser, i) for i in ids}
            except TikTokError as error:
                failed[advertiser] = str(error)
        except TikTokError as error:
            failed[advertiser] = str(error)
    return Lookup(held, failed)


def audience_at_tiktok(
    client: TikTokClient, advertiser_id: str, audience_id: str
) -> HeldAudience | None:
    """One audience by id (one get request), None when TikTok has no such audience under the
    advertiser; any other error is raised."""
    try:
        found = client.get_custom_audiences(advertiser_id, [audience_id])
    except NotFoundError:
        return None
    return next(
        (
            HeldAudience(a.audience_id, a.name, a.type)
            for a in found
            if a.audience_id == audience_id
        ),
        None,
    )
