"""OAuth: auth_code exchange (single use, expiring) and the advertisers a token reaches
(docs/tiktok-api.md §2)."""

from __future__ import annotations

import time

import pytest

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api

EXCHANGE = "oauth2/access_token/"
GOOD = {"app_id": "emulator-app", "secret": "emulator-secret", "auth_code": "emulator-auth-code"}


def test_auth_code_exchange_returns_token_advertisers_and_scopes(api: Api) -> None:
    reply = api.post(EXCHANGE, GOOD, token=None)
    assert reply["code"] == 0, reply
    assert reply["data"] == {
        "access_token": "emulator-token",
        "advertiser_ids": [ADVERTISER],
        "scope": [3, 30, 31, 32],
    }


def test_auth_code_is_single_use(api: Api) -> None:
    assert api.post(EXCHANGE, GOOD, token=None)["code"] == 0
    again = api.post(EXCHANGE, GOOD, token=None)
    assert again["code"] == 40110
    assert "auth_code" in again["message"]


def test_auth_code_expires(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(auth_code_ttl_seconds=0.1))
    time.sleep(0.15)
    assert api.post(EXCHANGE, GOOD, token=None)["code"] == 40110


def test_wrong_secret_does_not_burn_the_auth_code(api: Api) -> None:
    assert api.post(EXCHANGE, {**GOOD, "secret": "wrong"}, token=None)["code"] == 40101
    assert api.post(EXCHANGE, GOOD, token=None)["code"] == 0


def test_reset_makes_auth_codes_usable_again(api: Api) -> None:
    assert api.post(EXCHANGE, GOOD, token=None)["code"] == 0
    api.emulator.reset()
    assert api.post(EXCHANGE, GOOD, token=None)["code"] == 0


def test_return_advertiser_ids_false_leaves_them_out(api: Api) -> None:
    reply = api.post(EXCHANGE, {**GOOD, "return_advertiser_ids": False}, token=None)
    assert "advertiser_ids" not in reply["data"]


@pytest.mark.parametrize(
    "body, code, field",
    [
        pytest.param({**GOOD, "auth_code": "nope"}, 40110, "auth_code", id="unknown-auth-code"),
        pytest.param({**GOOD, "app_id": "other-app"}, 40101, "app ID", id="unknown-app"),
        pytest.param({**GOOD, "secret": "wrong"}, 40101, "app ID", id="wrong-secret"),
        pytest.param(
            {k: v for k, v in GOOD.items() if k != "secret"}, 40002, "secret", id="no-secret"
        ),
        pytest.param(
            {k: v for k, v in GOOD.items() if k != "app_id"}, 40002, "app_id", id="no-app"
        ),
        pytest.param(
            {k: v for k, v in GOOD.items() if k != "auth_code"}, 40002, "auth_code", id="no-code"
        ),
        pytest.param({**GOOD, "auth_code": 7}, 40002, "auth_code", id="code-not-string"),
    ],
)
def test_exchange_errors(api: Api, body: dict[str, object], code: int, field: str) -> None:
    reply = api.post(EXCHANGE, body, token=None)
    assert reply["code"] == code
    assert field in reply["message"]


def test_advertiser_get_lists_the_tokens_advertisers(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(
        advertisers={
            ADVERTISER: "Demo",
            "7000000000000000002": "Second",
            "7000000000000000003": "X",
        },
        tokens={"emulator-token": [ADVERTISER, "7000000000000000002"]},
    )
    reply = Api(emulator).get(
        "oauth2/advertiser/get/", {"app_id": "emulator-app", "secret": "emulator-secret"}
    )
    assert reply["code"] == 0
    assert reply["data"]["list"] == [
        {"advertiser_id": ADVERTISER, "advertiser_name": "Demo"},
        {"advertiser_id": "7000000000000000002", "advertiser_name": "Second"},
    ]


@pytest.mark.parametrize(
    "params, token, code",
    [
        pytest.param(
            {"app_id": "emulator-app", "secret": "x"}, "emulator-token", 40101, id="bad-secret"
        ),
        pytest.param({"app_id": "emulator-app"}, "emulator-token", 40002, id="no-secret"),
        pytest.param(
            {"app_id": "emulator-app", "secret": "emulator-secret"}, None, 40104, id="no-token"
        ),
    ],
)
def test_advertiser_get_errors(
    api: Api, params: dict[str, str], token: str | None, code: int
) -> None:
    assert api.get("oauth2/advertiser/get/", params, token=token)["code"] == code
