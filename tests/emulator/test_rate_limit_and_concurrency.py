"""Rate limit per access token (docs/tiktok-api.md §5.1) and atomic, thread-safe state under
concurrent clients."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, TOKEN, Api, shas

LIST = "dmp/custom_audience/list/"


def _codes(api: Api, n: int) -> list[int]:
    return [api.get(LIST, {"advertiser_id": ADVERTISER})["code"] for _ in range(n)]


def test_over_qps_is_40100_then_recovers_after_the_second(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(qps=3))
    started = time.monotonic()
    codes = _codes(api, 5)
    assert time.monotonic() - started < 0.9  # all five inside one window
    assert codes == [0, 0, 0, 40100, 40100]
    throttled = api.get(LIST, {"advertiser_id": ADVERTISER})
    assert throttled["message"].startswith("Too many requests")
    assert throttled["request_id"]
    time.sleep(1.05)
    assert _codes(api, 3) == [0, 0, 0]


def test_limit_is_per_access_token(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(
        qps=2, tokens={"emulator-token": [ADVERTISER], "second-token": [ADVERTISER]}
    )
    first, second = Api(emulator), Api(emulator, token="second-token")
    assert _codes(first, 3) == [0, 0, 40100]
    assert _codes(second, 2) == [0, 0]


def test_auth_failures_and_control_paths_are_not_rate_limited(
    make_emulator: EmulatorFactory,
) -> None:
    emulator = make_emulator(qps=1)
    api = Api(emulator)
    for _ in range(5):
        assert api.get(LIST, {"advertiser_id": ADVERTISER}, token=None)["code"] == 40104
    for _ in range(20):
        assert requests.get(emulator.control_url + "requests/", timeout=5).status_code == 200
    assert _codes(api, 2) == [0, 40100]


def test_qps_can_change_at_run_time(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(qps=1)
    api = Api(emulator)
    assert _codes(api, 2) == [0, 40100]
    response = requests.post(emulator.control_url + "config/", json={"qps": 0}, timeout=5)
    assert response.json()["config"]["qps"] == 0
    assert _codes(api, 10) == [0] * 10


def test_default_qps_is_10() -> None:
    from sync.emulator import EmulatorConfig

    assert EmulatorConfig.default().qps == 10


def test_concurrent_mapping_requests_end_with_the_exact_union(api: Api) -> None:
    audience_id = api.partner()
    # Eight workers, overlapping ranges, each batch on its own connection.
    batches = [shas(start, start + 300) for start in range(0, 2400, 150)]

    def send(hashes: list[str]) -> int:
        worker = Api(api.emulator)
        return int(worker.map(audience_id, hashes)["code"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(send, batches))
    assert codes == [0] * len(batches)
    union = set().union(*batches)
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": union}
    assert api.details(audience_id)["cover_num"] == len(union)


def test_concurrent_adds_and_deletes_of_disjoint_ids(api: Api) -> None:
    audience_id = api.partner()
    api.map(audience_id, shas(0, 1000))

    def work(i: int) -> int:
        worker = Api(api.emulator)
        if i % 2:
            return int(
                worker.map(audience_id, shas(i * 100, i * 100 + 100), action="delete")["code"]
            )
        return int(worker.map(audience_id, shas(5000 + i * 100, 5100 + i * 100))["code"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(work, range(10))) == {0}
    expected = set(shas(0, 1000))
    for i in range(10):
        if i % 2:
            expected -= set(shas(i * 100, i * 100 + 100))
        else:
            expected |= set(shas(5000 + i * 100, 5100 + i * 100))
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": expected}


def test_concurrent_creates_get_distinct_ids_and_respect_the_cap(
    make_emulator: EmulatorFactory,
) -> None:
    emulator = make_emulator(max_audiences=10)

    def create(i: int) -> dict[str, object]:
        return Api(emulator).post(
            "segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": f"a{i}"}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(create, range(16)))
    created = [r["data"]["audience_id"] for r in replies if r["code"] == 0]  # type: ignore[index]
    assert len(created) == len(set(created)) == 10
    assert sum(1 for r in replies if r["code"] == 40002) == 6


def test_requests_are_counted_by_arrival_even_when_checked_out_of_order() -> None:
    """A gateway counts a request when it arrives; the emulator checks it later (after reading
    its body and waiting its latency), so checks come out of arrival order. A request is
    admitted only if every one-second window holding its arrival stays within the limit."""
    from sync.emulator import EmulatorConfig
    from sync.emulator.state import State

    state = State(EmulatorConfig(qps=2))
    t = time.monotonic()
    assert state.allow_request("emulator-token", t + 0.5)
    assert state.allow_request("emulator-token", t + 0.0)  # arrived first, checked second
    assert not state.allow_request("emulator-token", t + 0.9)  # [t, t+1) would hold three
    assert not state.allow_request("emulator-token", t - 0.4)  # [t-0.4, t+0.6) would too
    assert state.allow_request("emulator-token", t + 1.2)  # [t+0.5, t+1.5) holds two
    assert not state.allow_request("emulator-token", t + 1.1)  # [t+0.5, t+1.5) would hold three
    assert state.allow_request("emulator-token", t + 2.3)


def test_the_log_times_a_request_from_its_arrival(api: Api) -> None:
    """`time` and `duration_ms` both start when the request arrived, so time + duration is
    when it was answered (what bench/quota.py reads), latency and body reading included."""
    before = time.time()
    api.get(LIST, {"advertiser_id": ADVERTISER})
    after = time.time()
    entry = requests.get(api.emulator.control_url + "requests/", timeout=5).json()["requests"][-1]
    assert before <= entry["time"] <= entry["time"] + entry["duration_ms"] / 1000 <= after + 0.01


_SEND_AT = """
import socket, sys, time
host, port, at, request = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with socket.create_connection((host, port), timeout=30) as conn:
    time.sleep(max(0.0, at - time.time()))
    sent = time.time()
    conn.sendall(request.encode())
    conn.recv(1)
print(sent)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's receive stamps are Linux's")
def test_a_request_arrives_when_its_bytes_do_not_when_a_busy_emulator_notices_it(
    api: Api,
) -> None:
    """The rate limit counts arrivals as a gateway does. Another process sends a request while
    this thread, which shares the emulator's interpreter, holds it (one sum() over a range, no
    bytecode boundary to let go at): the emulator notices the request only afterwards, but it
    arrived when it was sent."""
    body = json.dumps({"advertiser_id": ADVERTISER})
    request = (
        f"POST /open_api/v1.3/segment/audience/ HTTP/1.1\r\nHost: x\r\n"
        f"Access-Token: {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    url = urlsplit(api.emulator.base_url)
    started = time.perf_counter()
    sum(range(1_000_000))
    per_million = time.perf_counter() - started
    send_at = time.time() + 1.0  # time for the sender to start, even on a loaded machine
    args = [url.hostname, str(url.port), repr(send_at), request]
    sender = subprocess.Popen(
        [sys.executable, "-c", _SEND_AT, *args], stdout=subprocess.PIPE, text=True
    )
    sum(range(int(2.0 / per_million * 1_000_000)))  # ~2 s: the send falls inside it
    held_until = time.time()
    out, _ = sender.communicate(timeout=30)
    sent = float(out)
    assert held_until - sent > 0.3, "the emulator was not held when the request came"
    entry = requests.get(api.emulator.control_url + "requests/", timeout=5).json()["requests"][-1]
    assert entry["path"].endswith("/segment/audience/")
    assert sent <= entry["time"] < sent + 0.1
