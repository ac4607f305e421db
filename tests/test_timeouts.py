"""Bounded time: no request without connect and read timeouts, and `run --max-duration`.

A request without a timeout can hang a run forever on a half-open connection, so every call
the client makes must carry a finite (connect, read) pair. Checked two ways against the
emulator: a test-side `requests.Session` that refuses a request without one, injected through
the client's `session=` parameter and driven through every endpoint method and a whole sync;
and the same check on `requests.Session.request` itself while every CLI command runs, which
covers clients the commands build themselves. A source check makes sure nothing else in the
package opens HTTP connections some other way.

`--max-duration` bounds a whole run: after it no create, batch, retry or processing wait
starts and a request in flight gets at most MIN_READ_TIMEOUT more; the run exits 1 with the
rest pending, the state consistent, and the next run converges.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sync.tiktok import client as client_module
from sync.tiktok.client import MIN_READ_TIMEOUT, TikTokClient
from sync.tiktok.errors import RetryableError
from sync.tiktok.retry import RetryPolicy, call_with_retry
from tests.sync_support import ADVERTISER, API_PREFIX, TOKEN, SyncEnv, sync_env

ENDPOINTS = {
    getattr(client_module, name)
    for name in dir(client_module)
    if name.isupper()
    and isinstance(getattr(client_module, name), str)
    and getattr(client_module, name).endswith("/")
    and not getattr(client_module, name).startswith("http")
}


def _check_timeout(timeout: Any) -> None:
    assert isinstance(timeout, tuple) and len(timeout) == 2, f"timeout {timeout!r}"
    for part in timeout:
        assert isinstance(part, int | float) and 0 < part < math.inf, f"timeout {timeout!r}"


class TimeoutCheckingSession(requests.Session):
    """Refuses any request without a finite (connect, read) timeout; records the paths."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _check_timeout(kwargs.get("timeout"))
        self.paths.append(urlsplit(str(url)).path.removeprefix(API_PREFIX))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def test_every_client_request_carries_connect_and_read_timeouts(env: SyncEnv) -> None:
    assert len(ENDPOINTS) >= 10
    session = TimeoutCheckingSession()
    client = TikTokClient(
        TOKEN, base_url=env.emulator.base_url, requests_per_second=None, session=session
    )
    with client:
        # Every endpoint method, directly.
        client.exchange_auth_code("emulator-app", "emulator-secret", "emulator-auth-code")
        client.get_authorized_advertisers("emulator-app", "emulator-secret")
        hashes = [f"{i:064x}" for i in range(1, 1201)]
        path = client.upload_customer_file(
            ADVERTISER, ("\n".join(hashes) + "\n").encode(), "EMAIL_SHA256"
        )
        file_audience = client.create_custom_audience(
            ADVERTISER, "timeouts", "EMAIL_SHA256", [path]
        )
        client.update_custom_audience(ADVERTISER, file_audience, [path], "APPEND")
        client.get_custom_audiences(ADVERTISER, [file_audience])
        list(client.list_custom_audiences(ADVERTISER))
        segment = client.create_segment_audience(ADVERTISER, "timeouts segment")
        client.map_segment(ADVERTISER, segment, "add", "EMAIL_SHA256", hashes[:10])
        client.map_segment(ADVERTISER, segment, "delete", "EMAIL_SHA256", hashes[:5])
        client.delete_segment_audience(ADVERTISER, segment)
        client.delete_custom_audiences(ADVERTISER, [file_audience])
        # And a whole sync, with an ambiguous create so the lookup path runs too.
        env.emulator.set_faults(
            [{"kind": "applied_then_drop", "path": "segment/audience/", "count": 1}]
        )
        assert env.run_engine(client).exit_code == 0
    assert set(session.paths) == ENDPOINTS  # every endpoint the client knows was exercised


def test_every_command_sends_only_requests_with_timeouts(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = requests.Session.request

    def checked(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _check_timeout(kwargs.get("timeout"))
        seen.append(urlsplit(str(url)).path.removeprefix(API_PREFIX))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", checked)
    app_env = {"TIKTOK_APP_ID": "emulator-app", "TIKTOK_APP_SECRET": "emulator-secret"}
    for args in (["run"], ["check"], ["audiences"]):
        result = env.cli(*args)
        assert result.exit_code == 0, result.output
    for args in (
        ["advertisers"],
        [
            "auth",
            "--auth-code",
            "emulator-auth-code",
            "--save-to",
            str(env.db_path.parent / "c.json"),
        ],
    ):
        result = env.runner.invoke(_app(), args, env=env.env(**app_env))
        assert result.exit_code == 0, result.output
    assert {"segment/mapping/", "dmp/custom_audience/create/", "oauth2/access_token/"} <= set(seen)


def _app() -> Any:
    from sync.cli import app

    return app


def test_nothing_in_the_package_opens_http_connections_another_way() -> None:
    package = Path(client_module.__file__).parents[1]
    pattern = re.compile(
        # urllib3's exceptions and fields (multipart part headers) open nothing.
        r"^\s*(import|from)\s+(urllib\.request|http\.client|httpx|aiohttp|urllib3(?!\.exceptions|\.fields))\b|"
        r"requests\.(get|post|put|delete|request|head|patch)\(",
        re.MULTILINE,
    )
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "emulator" not in path.parts and pattern.search(path.read_text())
    ]
    # tiktok/deadline.py subclasses urllib3's connection classes for the session's adapter, so a
    # request's deadline can close its socket; it opens nothing itself. Only it may.
    assert offenders == [str(Path("tiktok", "deadline.py"))]
    deadline_imports = re.findall(
        r"^from urllib3\.(\w+) import", (package / "tiktok" / "deadline.py").read_text(), re.M
    )
    assert sorted(deadline_imports) == ["connection", "connectionpool"]


def test_the_retry_loop_starts_no_backoff_past_the_deadline() -> None:
    now = [0.0]
    calls: list[float] = []

    def failing() -> None:
        calls.append(now[0])
        raise RetryableError("busy", endpoint="POST segment/mapping/")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=1.0, max_total_wait=1_000)
    with pytest.raises(RetryableError):
        call_with_retry(
            failing,
            policy=policy,
            sleep=sleep,
            random=lambda: 1.0,
            deadline=5.5,
            clock=lambda: now[0],
        )
    # The attempt at 5.0 still starts before the deadline; a backoff to 6.0 would end past it.
    assert calls == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_max_duration_stops_the_run_and_leaves_the_rest_pending(env: SyncEnv) -> None:
    # TikTok answers every request slowly: the whole demo would take ~8 s.
    delay, limit = 0.6, 1.5
    env.emulator.set_faults([{"kind": "slow", "path": "", "rate": 1.0, "delay": delay}])

    started = time.monotonic()
    result = env.cli("run", "--json", "--max-duration", str(limit))
    elapsed = time.monotonic() - started

    assert result.exit_code == 1, result.output
    # The bound: the limit, one request cut to MIN_READ_TIMEOUT, and the CLI's own start-up.
    assert elapsed < limit + MIN_READ_TIMEOUT + 2.0, elapsed
    report = json.loads(result.stdout)
    assert report["status"] in ("partial", "failed")
    pending = sum(a["adds_pending"] + a["removes_pending"] for a in report["audiences"])
    assert pending > 0
    assert any("max-duration" in (a["error"] or {}).get("message", "") for a in report["audiences"])
    time.sleep(delay + 0.2)  # requests TikTok was still answering land
    env.emulator.clear_faults()
    # Consistent: the state holds only what TikTok holds, and the diff says what is left.
    tiktok, state = env.tiktok(), env.acknowledged()
    for key, members in state.items():
        for id_type, hashes in members.items():
            assert hashes <= tiktok[key][id_type]
    assert sum(env.pending().values()) >= pending

    again = env.cli("run")

    assert again.exit_code == 0, again.output
    env.assert_converged()
