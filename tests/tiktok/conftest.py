"""Fixtures: the scripted loopback server (see scripted.py) and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sync.tiktok import TikTokClient

from .scripted import TOKEN, ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Every backoff the client asked for; nothing really sleeps."""
    return []


MakeClient = Callable[..., TikTokClient]


@pytest.fixture
def make_client(server: ScriptedServer, sleeps: list[float]) -> Iterator[MakeClient]:
    made: list[TikTokClient] = []

    def make(access_token: str | None = TOKEN, **options: Any) -> TikTokClient:
        settings: dict[str, Any] = {
            "base_url": server.base_url,
            "connect_timeout": 2,
            "read_timeout": 5,
            "requests_per_second": 0,
            "sleep": sleeps.append,
        }
        settings.update(options)
        client = TikTokClient(access_token, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> TikTokClient:
    return make_client()
