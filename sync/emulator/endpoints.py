"""Which handler answers which TikTok path, with which method, and whether it needs a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.emulator import api_custom_audience as custom_audience
from sync.emulator import api_oauth as oauth
from sync.emulator import api_segment as segment
from sync.emulator.params import ApiRequest
from sync.emulator.state import State

Handler = Callable[[State, ApiRequest], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    handler: Handler
    needs_token: bool = True


# Trailing slash included: TikTok answers 404 without it (docs/tiktok-api.md §1).
ENDPOINTS: dict[str, Endpoint] = {
    "oauth2/access_token/": Endpoint("POST", oauth.access_token, needs_token=False),
    "oauth2/advertiser/get/": Endpoint("GET", oauth.advertiser_get),
    "dmp/custom_audience/file/upload/": Endpoint("POST", custom_audience.file_upload),
    "dmp/custom_audience/create/": Endpoint("POST", custom_audience.create),
    "dmp/custom_audience/update/": Endpoint("POST", custom_audience.update),
    "dmp/custom_audience/get/": Endpoint("GET", custom_audience.get),
    "dmp/custom_audience/list/": Endpoint("GET", custom_audience.list_),
    "dmp/custom_audience/delete/": Endpoint("POST", custom_audience.delete),
    "segment/audience/": Endpoint("POST", segment.audience),
    "segment/mapping/": Endpoint("POST", segment.mapping),
}
