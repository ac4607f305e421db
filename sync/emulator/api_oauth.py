"""OAuth endpoints: exchange an auth_code for a token; list the token's advertisers
(docs/tiktok-api.md §2)."""

from __future__ import annotations

import secrets
from typing import Any

from sync.emulator import errors
from sync.emulator.errors import ApiError
from sync.emulator.params import ApiRequest, required_str
from sync.emulator.state import State

# docs/tiktok-api.md §2 "Scopes": 3 Audience Management, 30 read, 31 create/update (incl. segment),
# 32 share.
GRANTED_SCOPES = [3, 30, 31, 32]


def _check_app(state: State, app_id: str, secret: str) -> None:
    expected = state.config.apps.get(app_id)
    if expected is None or not secrets.compare_digest(expected, secret):
        raise ApiError(errors.APP_CREDENTIALS, "Secret and app ID do not match.")


def access_token(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    app_id = required_str(body, "app_id")
    secret = required_str(body, "secret")
    auth_code = required_str(body, "auth_code")
    _check_app(state, app_id, secret)  # before the code, so a typo does not burn it
    token = state.redeem_auth_code(auth_code)
    data: dict[str, Any] = {"access_token": token, "scope": list(GRANTED_SCOPES)}
    # docs/tiktok-api.md §2: optional, default true
    if body.get("return_advertiser_ids", True) is not False:
        data["advertiser_ids"] = list(state.config.tokens[token])
    return data


def advertiser_get(state: State, request: ApiRequest) -> dict[str, Any]:
    query = request.query_values()
    _check_app(state, required_str(query, "app_id"), required_str(query, "secret"))
    names = state.config.advertisers
    return {
        "list": [
            {"advertiser_id": a, "advertiser_name": names[a]} for a in request.token_advertisers
        ]
    }
