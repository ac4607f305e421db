"""Customer-file upload: multipart fields, MD5 signature, file rules (docs/tiktok-api.md §3.1,
§3.2)."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api, file_bytes, md5, sha, shas

UPLOAD = "dmp/custom_audience/file/upload/"
GOOD = file_bytes(shas(0, 5))


def test_upload_returns_an_opaque_file_path(api: Api) -> None:
    reply = api.upload(GOOD)
    assert reply["code"] == 0, reply
    file_path = reply["data"]["file_path"]
    assert isinstance(file_path, str) and len(file_path) == 16


@pytest.mark.parametrize(
    "content, calculate_type, filename",
    [
        pytest.param(GOOD, "EMAIL_SHA256", "ids.csv", id="lf-csv"),
        pytest.param(file_bytes(shas(0, 5), "\r\n"), "EMAIL_SHA256", "ids.txt", id="crlf-txt"),
        pytest.param(GOOD.rstrip(b"\n"), "PHONE_SHA256", "ids.csv", id="no-final-newline"),
        pytest.param(file_bytes([md5(i) for i in range(3)]), "IDFA_MD5", "m.csv", id="md5"),
        pytest.param(file_bytes([md5(i) for i in range(3)]), "MAID_MD5", "m.csv", id="maid-alias"),
        pytest.param(GOOD + GOOD, "GAID_SHA256", "dupes.csv", id="duplicate-lines"),
    ],
)
def test_accepted_files(api: Api, content: bytes, calculate_type: str, filename: str) -> None:
    assert api.upload(content, calculate_type, filename)["code"] == 0


@pytest.mark.parametrize(
    "content, calculate_type, filename, signature, code, says",
    [
        pytest.param(GOOD, "EMAIL_SHA256", "ids.xlsx", None, 40908, ".csv", id="xlsx-suffix"),
        pytest.param(GOOD, "EMAIL_SHA256", "ids", None, 40908, ".csv", id="no-suffix"),
        pytest.param(GOOD, "EMAIL_SHA256", "ids.CSV", None, 40908, ".csv", id="upper-suffix"),
        pytest.param(GOOD, "EMAIL_MD5", "ids.csv", None, 40909, "EMAIL_MD5", id="no-email-md5"),
        pytest.param(GOOD, "email_sha256", "ids.csv", None, 40909, "email", id="lowercase-enum"),
        pytest.param(
            GOOD, "MULTIPLE_TYPES", "ids.csv", None, 40909, "emulator", id="multiple-types"
        ),
        pytest.param(GOOD, "EMAIL_SHA256", "ids.csv", "0" * 32, 40900, "signature", id="bad-md5"),
        pytest.param(
            GOOD,
            "EMAIL_SHA256",
            "ids.csv",
            hashlib.md5(GOOD).hexdigest().upper(),
            40900,
            "lowercase",
            id="uppercase-md5",
        ),
        pytest.param(b"", "EMAIL_SHA256", "ids.csv", None, 40906, "empty", id="empty"),
        pytest.param(b"\n", "EMAIL_SHA256", "ids.csv", None, 40906, "empty", id="only-newline"),
        pytest.param(
            file_bytes([sha(0), sha(1), sha(2)[:63]]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "line 3 must be 64 hex characters",
            id="short-hash-line-3",
        ),
        pytest.param(
            file_bytes([sha(0).upper()]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "line 1 must be lowercase",
            id="uppercase-hash",
        ),
        pytest.param(
            file_bytes([md5(0)]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "line 1",
            id="md5-in-sha256-file",
        ),
        pytest.param(
            file_bytes(["email_sha256", sha(0)]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "no header",
            id="header-row",
        ),
        pytest.param(
            file_bytes([sha(0), "", sha(1)]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "line 2",
            id="blank-line",
        ),
        pytest.param(
            file_bytes([sha(0) + "," + sha(1)]),
            "EMAIL_SHA256",
            "ids.csv",
            None,
            40915,
            "line 1",
            id="two-columns",
        ),
        pytest.param(
            b"\xef\xbb\xbf" + GOOD, "EMAIL_SHA256", "ids.csv", None, 40914, "line 1", id="utf8-bom"
        ),
    ],
)
def test_rejected_files(
    api: Api,
    content: bytes,
    calculate_type: str,
    filename: str,
    signature: str | None,
    code: int,
    says: str,
) -> None:
    reply = api.upload(content, calculate_type, filename, signature)
    assert reply["code"] == code, reply
    assert says in reply["message"]


def test_file_over_the_size_limit_is_40907(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(max_file_bytes=6 * 65))
    assert api.upload(file_bytes(shas(0, 6)))["code"] == 0  # exactly at the limit
    reply = api.upload(file_bytes(shas(0, 7)))
    assert reply["code"] == 40907
    assert "390" in reply["message"]


def _multipart(api: Api, form: dict[str, str], with_file: bool = True) -> dict[str, object]:
    # Fields as (None, value) parts so the body stays multipart even without a file.
    parts: dict[str, tuple[str | None, bytes | str, str]] = {
        name: (None, value, "text/plain") for name, value in form.items()
    }
    if with_file:
        parts["file"] = ("ids.csv", GOOD, "text/csv")
    response = api.session.post(api.base + UPLOAD, files=parts, headers=api.headers())
    return response.json()  # type: ignore[no-any-return]


FORM = {
    "advertiser_id": ADVERTISER,
    "calculate_type": "EMAIL_SHA256",
    "file_signature": hashlib.md5(GOOD).hexdigest(),
}


@pytest.mark.parametrize(
    "drop, code",
    [
        pytest.param("advertiser_id", 40002, id="no-advertiser"),
        pytest.param("calculate_type", 40002, id="no-calculate-type"),
        pytest.param("file_signature", 40002, id="no-signature"),
    ],
)
def test_missing_form_fields_are_named(api: Api, drop: str, code: int) -> None:
    reply = _multipart(api, {k: v for k, v in FORM.items() if k != drop})
    assert reply["code"] == code
    assert drop in str(reply["message"])


def test_missing_file_part_is_40002(api: Api) -> None:
    reply = _multipart(api, FORM, with_file=False)
    assert reply["code"] == 40002
    assert "file" in str(reply["message"])


def test_upload_for_an_advertiser_the_token_cannot_manage_is_40001(api: Api) -> None:
    assert _multipart(api, {**FORM, "advertiser_id": "123"})["code"] == 40001


def test_json_body_instead_of_multipart_is_40000(api: Api) -> None:
    assert api.post(UPLOAD, FORM)["code"] == 40000


def test_request_log_keeps_file_size_and_md5_not_the_bytes(api: Api) -> None:
    api.upload(GOOD)
    entry = api.emulator.requests()[-1]
    assert entry["body"]["form"]["calculate_type"] == "EMAIL_SHA256"
    assert entry["body"]["files"]["file"] == {
        "filename": "ids.csv",
        "size": len(GOOD),
        "md5": hashlib.md5(GOOD).hexdigest(),
    }
