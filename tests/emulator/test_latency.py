"""Latency per endpoint (config `latency`) and the peak of requests in flight (control in-flight/).

Real TikTok answers a mapping request in a few hundred milliseconds; loopback answers in one. The
emulator can hold each request for a configured round trip, and counts how many it holds at once,
so a test sees a client's concurrency without timing anything.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sync.emulator import EmulatorConfig
from sync.emulator.config import EmulatorConfigError

from .conftest import EmulatorFactory
from .helpers import Api, shas

SLOW_MAPPING = {"segment/mapping/": {"fixed": 0.5, "jitter": 0.1}}


def test_requests_side_by_side_are_held_side_by_side(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(latency=SLOW_MAPPING)
    audience_id = Api(emulator).partner()
    together = threading.Barrier(4)

    def send(start: int) -> int:
        worker = Api(emulator)
        together.wait()
        return int(worker.map(audience_id, shas(start, start + 10))["code"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(send, range(0, 40, 10))) == [0] * 4
    seen = requests.get(emulator.control_url + "in-flight/", timeout=5).json()
    assert seen["in_flight"] == 0
    assert 2 <= seen["peak"] <= 4
    assert emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 40))}
    cleared = requests.delete(emulator.control_url + "in-flight/", timeout=5).json()
    assert cleared == {"in_flight": 0, "peak": 0}


def test_one_request_at_a_time_peaks_at_one(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(latency={"*": {"fixed": 0.05}})
    api = Api(emulator)
    audience_id = api.partner()
    for start in range(0, 30, 10):
        assert api.map(audience_id, shas(start, start + 10))["code"] == 0
    assert emulator.in_flight() == {"in_flight": 0, "peak": 1}


def test_latency_changes_at_run_time(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator()
    response = requests.post(
        emulator.control_url + "config/", json={"latency": SLOW_MAPPING}, timeout=5
    )
    assert response.status_code == 200
    assert response.json()["config"]["latency"] == SLOW_MAPPING
    assert emulator.config.latency_of("segment/mapping/") == (0.5, 0.1)
    assert emulator.config.latency_of("segment/audience/") == (0.0, 0.0)


@pytest.mark.parametrize(
    ("latency", "says"),
    [
        ({"segment/mapping": {"fixed": 1}}, "must be an endpoint path ending in /"),
        ({"*": {"fixed": -1}}, "fixed must be a number of seconds >= 0"),
        ({"*": {"fixed": 1, "median": 1}}, 'must be an object of endpoint path (or "*")'),
        ([0.3], "latency must be an object"),
    ],
    ids=["no-trailing-slash", "negative", "unknown-key", "not-an-object"],
)
def test_bad_latency_is_refused_with_the_reason(latency: object, says: str) -> None:
    with pytest.raises(EmulatorConfigError) as raised:
        EmulatorConfig.from_dict({"latency": latency})
    assert says in str(raised.value)
