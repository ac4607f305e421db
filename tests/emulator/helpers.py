"""Helpers for the emulator tests: deterministic hashes and a thin `requests` driver."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import requests

from sync.emulator import Emulator

ADVERTISER = "7000000000000000001"
TOKEN = "emulator-token"
SAME_TOKEN: Any = object()  # "use the Api's own token"


def sha(i: int | str, kind: str = "email") -> str:
    """A deterministic SHA-256 hex digest standing in for a hashed identifier."""
    return hashlib.sha256(f"{kind}-{i}".encode()).hexdigest()


def md5(i: int | str, kind: str = "maid") -> str:
    return hashlib.md5(f"{kind}-{i}".encode()).hexdigest()


def shas(start: int, stop: int, kind: str = "email") -> list[str]:
    return [sha(i, kind) for i in range(start, stop)]


def file_bytes(hashes: Iterable[str], newline: str = "\n") -> bytes:
    return "".join(h + newline for h in hashes).encode()


class Api:
    """Just enough of a TikTok client to drive the emulator; returns the parsed envelope."""

    def __init__(self, emulator: Emulator, token: str | None = TOKEN) -> None:
        self.emulator = emulator
        self.base = emulator.base_url
        self.token = token
        self.session = requests.Session()

    def headers(self, token: Any = SAME_TOKEN) -> dict[str, str]:
        token = self.token if token is SAME_TOKEN else token
        return {"Access-Token": token} if token is not None else {}

    def get(self, path: str, params: Any = None, **kw: Any) -> dict[str, Any]:
        response = self.session.get(
            self.base + path, params=params, headers=self.headers(kw.pop("token", SAME_TOKEN)), **kw
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def post(self, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        response = self.session.post(
            self.base + path, json=body, headers=self.headers(kw.pop("token", SAME_TOKEN)), **kw
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def upload(
        self,
        content: bytes | list[str],
        calculate_type: str = "EMAIL_SHA256",
        filename: str = "ids.csv",
        signature: str | None = None,
        advertiser_id: str = ADVERTISER,
    ) -> dict[str, Any]:
        data = file_bytes(content) if isinstance(content, list) else content
        form = {
            "advertiser_id": advertiser_id,
            "calculate_type": calculate_type,
            "file_signature": signature if signature is not None else hashlib.md5(data).hexdigest(),
        }
        response = self.session.post(
            self.base + "dmp/custom_audience/file/upload/",
            data=form,
            files={"file": (filename, data, "text/csv")},
            headers=self.headers(),
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def file_path(self, hashes: list[str], calculate_type: str = "EMAIL_SHA256") -> str:
        reply = self.upload(hashes, calculate_type)
        assert reply["code"] == 0, reply
        return str(reply["data"]["file_path"])

    def file_audience(
        self, hashes: list[str], name: str = "customers", calculate_type: str = "EMAIL_SHA256"
    ) -> str:
        reply = self.post(
            "dmp/custom_audience/create/",
            {
                "advertiser_id": ADVERTISER,
                "custom_audience_name": name,
                "calculate_type": calculate_type,
                "file_paths": [self.file_path(hashes, calculate_type)],
            },
        )
        assert reply["code"] == 0, reply
        return str(reply["data"]["custom_audience_id"])

    def update(self, audience_id: str, action: str, hashes: list[str]) -> dict[str, Any]:
        return self.post(
            "dmp/custom_audience/update/",
            {
                "advertiser_id": ADVERTISER,
                "custom_audience_id": audience_id,
                "action": action,
                "file_paths": [self.file_path(hashes)],
            },
        )

    def partner(self, name: str = "segment") -> str:
        reply = self.post(
            "segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": name}
        )
        assert reply["code"] == 0, reply
        return str(reply["data"]["audience_id"])

    def mapping_body(
        self,
        audience_id: str,
        hashes: list[str],
        action: str = "add",
        id_type: str = "EMAIL_SHA256",
    ) -> dict[str, Any]:
        return {
            "advertiser_ids": [ADVERTISER],
            "action": action,
            "id_schema": [id_type],
            "batch_data": [[{"id": h, "audience_ids": [audience_id]}] for h in hashes],
        }

    def map(self, audience_id: str, hashes: list[str], **kw: Any) -> dict[str, Any]:
        return self.post("segment/mapping/", self.mapping_body(audience_id, hashes, **kw))

    def details(self, audience_id: str) -> dict[str, Any]:
        reply = self.get(
            "dmp/custom_audience/get/",
            {"advertiser_id": ADVERTISER, "custom_audience_ids": f'["{audience_id}"]'},
        )
        assert reply["code"] == 0, reply
        return reply["data"]["list"][0]["audience_details"]  # type: ignore[no-any-return]
