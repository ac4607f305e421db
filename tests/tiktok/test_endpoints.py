"""Exact request shapes for every endpoint, result parsing, and local refusals (no HTTP)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest

from sync.tiktok import (
    Advertiser,
    AudienceDetails,
    AudienceSummary,
    RequestError,
    TikTokClient,
    authorization_url,
)
from sync.tiktok.client import mapping_body

from .conftest import MakeClient
from .scripted import ADVERTISER, APP_ID, APP_SECRET, AUTH_CODE, TOKEN, ScriptedServer, ok

H1 = hashlib.sha256(b"one@example.com").hexdigest()
H2 = hashlib.sha256(b"two@example.com").hexdigest()
M1 = hashlib.md5(b"5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25").hexdigest()
CSV = f"{H1}\n{H2}\n".encode()


@dataclass
class Shape:
    call: Callable[[TikTokClient], object]
    method: str
    endpoint: str
    json: dict[str, Any] | None = None  # exact JSON body
    query: dict[str, list[str]] | None = None  # exact query
    data: dict[str, Any] | None = None  # what TikTok answers in `data`


SHAPES = {
    "map_segment-add-email": Shape(
        lambda c: c.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", [H1, H2]),
        "POST",
        "segment/mapping/",
        json={
            "advertiser_ids": [ADVERTISER],
            "action": "add",
            "id_schema": ["EMAIL_SHA256"],
            "batch_data": [
                [{"id": H1, "audience_ids": ["aud-1"]}],
                [{"id": H2, "audience_ids": ["aud-1"]}],
            ],
        },
    ),
    "map_segment-delete-gaid-md5-as-aaid": Shape(
        lambda c: c.map_segment(ADVERTISER, "aud-1", "delete", "GAID_MD5", [M1]),
        "POST",
        "segment/mapping/",
        json={
            "advertiser_ids": [ADVERTISER],
            "action": "delete",
            "id_schema": ["AAID_MD5"],
            "batch_data": [[{"id": M1, "audience_ids": ["aud-1"]}]],
        },
    ),
    "create_segment_audience": Shape(
        lambda c: c.create_segment_audience(ADVERTISER, "VIP buyers"),
        "POST",
        "segment/audience/",
        json={
            "advertiser_id": ADVERTISER,
            "action": "create",
            "custom_audience_name": "VIP buyers",
        },
        data={"audience_id": "1800000000000000001"},
    ),
    "delete_segment_audience": Shape(
        lambda c: c.delete_segment_audience(ADVERTISER, "1800000000000000001"),
        "POST",
        "segment/audience/",
        json={
            "advertiser_id": ADVERTISER,
            "action": "delete",
            "delete_audience_id": "1800000000000000001",
        },
    ),
    "create_custom_audience": Shape(
        lambda c: c.create_custom_audience(
            ADVERTISER, "VIP buyers", "EMAIL_SHA256", ["fp-1", "fp-2"], retention_in_days=30
        ),
        "POST",
        "dmp/custom_audience/create/",
        json={
            "advertiser_id": ADVERTISER,
            "custom_audience_name": "VIP buyers",
            "calculate_type": "EMAIL_SHA256",
            "file_paths": ["fp-1", "fp-2"],
            "retention_in_days": 30,
        },
        data={"custom_audience_id": "1900000000000000001"},
    ),
    "update_custom_audience-remove": Shape(
        lambda c: c.update_custom_audience(ADVERTISER, "1900000000000000001", ["fp-3"], "REMOVE"),
        "POST",
        "dmp/custom_audience/update/",
        json={
            "advertiser_id": ADVERTISER,
            "custom_audience_id": "1900000000000000001",
            "action": "REMOVE",
            "file_paths": ["fp-3"],
        },
    ),
    "delete_custom_audiences": Shape(
        lambda c: c.delete_custom_audiences(ADVERTISER, ["1", "2"]),
        "POST",
        "dmp/custom_audience/delete/",
        json={"advertiser_id": ADVERTISER, "custom_audience_ids": ["1", "2"]},
    ),
    "get_custom_audiences-json-array-param": Shape(
        lambda c: c.get_custom_audiences(ADVERTISER, ["1", "2"]),
        "GET",
        "dmp/custom_audience/get/",
        query={"advertiser_id": [ADVERTISER], "custom_audience_ids": ['["1","2"]']},
    ),
    "list_custom_audiences": Shape(
        lambda c: list(c.list_custom_audiences(ADVERTISER)),
        "GET",
        "dmp/custom_audience/list/",
        query={"advertiser_id": [ADVERTISER], "page": ["1"], "page_size": ["100"]},
    ),
    "get_authorized_advertisers": Shape(
        lambda c: c.get_authorized_advertisers(APP_ID, APP_SECRET),
        "GET",
        "oauth2/advertiser/get/",
        query={"app_id": [APP_ID], "secret": [APP_SECRET]},
    ),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_request_shape(server: ScriptedServer, client: TikTokClient, shape: Shape) -> None:
    server.script(ok(shape.data))
    shape.call(client)
    (sent,) = server.requests
    assert (sent.method, sent.endpoint) == (shape.method, shape.endpoint)
    assert sent.path.endswith("/")
    assert sent.headers["Access-Token"] == TOKEN
    assert sent.headers["Authorization"] is None
    if shape.json is not None:
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.json() == shape.json
        assert sent.query == {}
    if shape.query is not None:
        assert sent.query == shape.query
        assert sent.body == b""


def test_exchange_auth_code_sends_exactly_the_three_fields_and_no_token(
    server: ScriptedServer, make_client: MakeClient
) -> None:
    server.script(
        ok({"access_token": "new-token", "advertiser_ids": [ADVERTISER, 7002], "scope": [3, 31]})
    )
    grant = make_client(access_token=None).exchange_auth_code(APP_ID, APP_SECRET, AUTH_CODE)
    (sent,) = server.requests
    assert (sent.method, sent.endpoint) == ("POST", "oauth2/access_token/")
    assert sent.headers["Access-Token"] is None
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": AUTH_CODE}
    assert grant.access_token == "new-token"
    assert grant.advertiser_ids == (ADVERTISER, "7002")
    assert grant.scope == (3, 31)
    assert "new-token" not in repr(grant)


def test_upload_sends_multipart_with_the_md5_of_the_exact_bytes(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok({"file_path": "fp-abc"}))
    assert client.upload_customer_file(ADVERTISER, CSV, "EMAIL_SHA256") == "fp-abc"
    (sent,) = server.requests
    assert (sent.method, sent.endpoint) == ("POST", "dmp/custom_audience/file/upload/")
    assert sent.headers["Access-Token"] == TOKEN
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sent.form() == {
        "advertiser_id": ADVERTISER,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": hashlib.md5(CSV).hexdigest(),
        "file": ("audience.csv", CSV, "text/csv"),
    }


def test_authorization_url_is_url_encoded() -> None:
    url = authorization_url("app 1", "http://localhost:8080/callback?x=1&y=2", "s/t")
    assert url.startswith("https://business-api.tiktok.com/portal/auth?")
    assert parse_qs(urlsplit(url).query) == {
        "app_id": ["app 1"],
        "redirect_uri": ["http://localhost:8080/callback?x=1&y=2"],
        "state": ["s/t"],
    }
    assert "&y=2" not in url  # the redirect's own query is encoded, not merged


# --- Result parsing ---------------------------------------------------------------------------


def test_create_custom_audience_falls_back_to_audience_id(
    server: ScriptedServer, client: TikTokClient
) -> None:
    """The SDK spec says `custom_audience_id`, Pipedream reads `audience_id` (docs/tiktok-api.md §8
    question 8)."""
    server.script(ok({"audience_id": "42"}))
    assert client.create_custom_audience(ADVERTISER, "n", "PHONE_SHA256", ["fp"]) == "42"


def test_get_authorized_advertisers_parses_the_list(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok({"list": [{"advertiser_id": 7001, "advertiser_name": "Shop"}]}))
    assert client.get_authorized_advertisers(APP_ID, APP_SECRET) == [Advertiser("7001", "Shop")]


def test_get_custom_audiences_chunks_by_100_and_tolerates_missing_fields(
    server: ScriptedServer, client: TikTokClient
) -> None:
    full = {
        "audience_id": "1",
        "name": "VIP",
        "type": "Partner",
        "calculate_type": "MULTIPLE_TYPES",
        "cover_num": 1200,
        "is_valid": True,
        "is_expiring": False,
        "create_time": "2024-01-01 00:00:00",
        "expired_time": "2025-01-01 00:00:00",
        "msg": "",
        "error_msg": None,
    }
    server.script(
        ok({"list": [{"audience_details": full, "audience_history": []}]}),
        ok({"list": [{"audience_details": {"audience_id": "150"}}]}),
    )
    ids = [str(n) for n in range(1, 151)]
    found = client.get_custom_audiences(ADVERTISER, ids)
    first, second = server.requests
    assert json.loads(first.query["custom_audience_ids"][0]) == ids[:100]
    assert json.loads(second.query["custom_audience_ids"][0]) == ids[100:]
    assert found[0] == AudienceDetails(
        "1", "VIP", "Partner", "MULTIPLE_TYPES", 1200, True, False,
        "2024-01-01 00:00:00", "2025-01-01 00:00:00", "", None,
    )  # fmt: skip
    assert found[1] == AudienceDetails("150", *[None] * 10)


def test_get_custom_audiences_without_ids_sends_nothing(
    server: ScriptedServer, client: TikTokClient
) -> None:
    assert client.get_custom_audiences(ADVERTISER, []) == []
    assert server.requests == []


def test_list_pages_until_total_page(server: ScriptedServer, client: TikTokClient) -> None:
    def page(number: int, *ids: str) -> dict[str, Any]:
        return {
            "list": [{"audience_id": i, "name": f"a{i}", "audience_type": "Partner"} for i in ids],
            "page_info": {"page": number, "page_size": 2, "total_number": 5, "total_page": 3},
        }

    server.script(ok(page(1, "1", "2")), ok(page(2, "3", "4")), ok(page(3, "5")))
    found = list(client.list_custom_audiences(ADVERTISER, page_size=2))
    assert [a.audience_id for a in found] == ["1", "2", "3", "4", "5"]
    assert found[0] == AudienceSummary("1", "a1", "Partner", *[None] * 7)
    assert [r.query["page"] for r in server.requests] == [["1"], ["2"], ["3"]]
    assert {r.query["page_size"][0] for r in server.requests} == {"2"}


def test_list_stops_on_a_page_without_page_info(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok({"list": [{"audience_id": "1"}]}))
    assert len(list(client.list_custom_audiences(ADVERTISER))) == 1
    assert len(server.requests) == 1


# --- Bad input never travels -----------------------------------------------------------------

UPPER = H1.upper()
REFUSALS = {
    "empty-batch": lambda c: c.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", []),
    "oversize-batch": lambda c: c.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", [H1] * 4),
    "uppercase-hash": lambda c: c.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", [H1, UPPER]),
    "md5-for-sha256": lambda c: c.map_segment(ADVERTISER, "a", "add", "PHONE_SHA256", [M1]),
    "sha256-for-md5": lambda c: c.map_segment(ADVERTISER, "a", "add", "IDFA_MD5", [H1]),
    "not-hex": lambda c: c.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", ["z" * 64]),
    "raw-email": lambda c: c.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", ["a@b.co"]),
    "unknown-id-type": lambda c: c.map_segment(ADVERTISER, "a", "add", "AAID_SHA256", [H1]),
    "unknown-action": lambda c: c.map_segment(ADVERTISER, "a", "remove", "EMAIL_SHA256", [H1]),
    "update-action-delete": lambda c: c.update_custom_audience(ADVERTISER, "a", ["f"], "DELETE"),
    "file-paths-as-string": lambda c: c.update_custom_audience(ADVERTISER, "a", "fp", "APPEND"),
    "no-file-paths": lambda c: c.create_custom_audience(ADVERTISER, "n", "EMAIL_SHA256", []),
    "bad-calculate-type": lambda c: c.create_custom_audience(ADVERTISER, "n", "EMAIL", ["f"]),
    "retention-over-365": lambda c: c.create_custom_audience(
        ADVERTISER, "n", "EMAIL_SHA256", ["f"], retention_in_days=400
    ),
    "segment-name-over-70": lambda c: c.create_segment_audience(ADVERTISER, "x" * 71),
    "blank-name": lambda c: c.create_segment_audience(ADVERTISER, "  "),
    "empty-file": lambda c: c.upload_customer_file(ADVERTISER, b"", "EMAIL_SHA256"),
    "file-not-csv-or-txt": lambda c: c.upload_customer_file(ADVERTISER, CSV, "EMAIL_SHA256", "a.z"),
    "page-size-over-100": lambda c: c.list_custom_audiences(ADVERTISER, page_size=101),
}


@pytest.mark.parametrize("call", REFUSALS.values(), ids=REFUSALS.keys())
def test_bad_input_is_refused_without_any_request(
    server: ScriptedServer, make_client: MakeClient, call: Callable[[TikTokClient], object]
) -> None:
    client = make_client(mapping_batch_limit=3)
    with pytest.raises(RequestError, match="refused before sending") as raised:
        call(client)
    assert server.requests == []
    assert raised.value.code is None


def test_refusal_names_the_bad_id_by_position_not_by_value(client: TikTokClient) -> None:
    with pytest.raises(RequestError) as raised:
        client.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", [H1, UPPER])
    assert "id #1" in str(raised.value) and UPPER not in str(raised.value)


# The sync hands over the Polars column it read from the warehouse, not a list.
SERIES_REFUSALS = {
    "uppercase": [H1, UPPER],
    "json-breakout": [H1, H2[:60] + '"}]]'],
    "trailing-newline": [H1[:63] + "\n"],
    "hash-then-newline": [H1 + "\n"],
    "null": [H1, None],
    "md5-length": [M1],
}


@pytest.mark.parametrize("values", SERIES_REFUSALS.values(), ids=SERIES_REFUSALS.keys())
def test_a_bad_value_in_a_series_batch_never_travels(
    server: ScriptedServer, client: TikTokClient, values: list[str | None]
) -> None:
    batch = pl.Series("id_hash", values, dtype=pl.String)
    with pytest.raises(RequestError, match=r"refused before sending: id #\d+ is not 64") as raised:
        client.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", batch)
    assert server.requests == []
    assert f"id #{len(values) - 1} " in str(raised.value)  # the first bad one, by position


def test_a_series_that_is_not_strings_never_travels(
    server: ScriptedServer, client: TikTokClient
) -> None:
    with pytest.raises(RequestError, match="ids must be strings"):
        client.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", pl.Series([1, 2]))
    with pytest.raises(RequestError, match="id #1 is not 64"):
        client.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", [H1, 1])  # type: ignore[list-item]
    assert server.requests == []


@pytest.mark.parametrize(
    ("advertiser", "audience", "hashes"),
    [
        (ADVERTISER, "aud-1", [H1]),
        (ADVERTISER, "1800000000000000001", [H1, H2, H1]),
        ('7"0\\1', 'a"}], [{"x": "', [M1, M1[::-1]]),  # quotes in ids are escaped, not spliced
        ("ä7", "ü", [H2]),
    ],
)
def test_the_mapping_body_built_from_the_column_is_what_json_dumps_writes(
    advertiser: str, audience: str, hashes: list[str]
) -> None:
    body = mapping_body(advertiser, audience, "delete", "AAID_MD5", pl.Series(hashes))

    assert (
        body
        == json.dumps(  # requests' own encoding of json=..., byte for byte
            {
                "advertiser_ids": [advertiser],
                "action": "delete",
                "id_schema": ["AAID_MD5"],
                "batch_data": [[{"id": h, "audience_ids": [audience]}] for h in hashes],
            }
        ).encode()
    )


def test_a_series_batch_sends_the_same_request_as_a_list(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok(), ok())
    client.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", [H1, H2])
    client.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", pl.Series([H1, H2]))

    as_list, as_series = server.requests
    assert as_series.body == as_list.body
    assert as_series.headers["Content-Type"] == "application/json"
    assert as_series.json() == SHAPES["map_segment-add-email"].json


def test_batch_limit_is_exposed_and_exactly_the_limit_is_accepted(
    server: ScriptedServer, make_client: MakeClient
) -> None:
    client = make_client(mapping_batch_limit=3)
    assert client.mapping_batch_limit == 3
    server.script(ok())
    client.map_segment(ADVERTISER, "a", "add", "EMAIL_SHA256", [H1, H2, H1])
    assert len(server.requests) == 1


def test_default_batch_limit_is_10000(client: TikTokClient) -> None:
    assert client.mapping_batch_limit == 10_000
