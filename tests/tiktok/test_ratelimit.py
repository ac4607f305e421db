"""The token bucket, driven by a fake clock: sleeping advances the clock."""

from __future__ import annotations

import threading

import pytest

from sync.tiktok import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def bucket(rate: float | None, burst: float | None = None) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_burst_goes_through_then_calls_are_spaced_by_one_over_rate() -> None:
    limiter, clock = bucket(rate=10, burst=3)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.1, 0.2])
    assert clock.sleeps == pytest.approx([0.1, 0.2])


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    limiter, clock = bucket(rate=10, burst=2)
    limiter.acquire()
    limiter.acquire()
    clock.now += 10  # long idle: refills to the burst, not to 100 tokens
    assert [limiter.acquire() for _ in range(3)] == pytest.approx([0, 0, 0.1])


def test_default_burst_is_one_second_of_rate() -> None:
    limiter, _ = bucket(rate=10)
    assert [limiter.acquire() for _ in range(11)][-2:] == pytest.approx([0, 0.1])


@pytest.mark.parametrize("rate", [0, None], ids=["zero", "none"])
def test_zero_or_none_disables_pacing(rate: float | None) -> None:
    limiter, clock = bucket(rate)
    assert not limiter.enabled
    assert [limiter.acquire() for _ in range(1000)] == [0.0] * 1000
    assert clock.sleeps == []


def test_concurrent_callers_each_reserve_their_own_slot() -> None:
    """20 threads at one instant: 10 pass, the other 10 queue at 0.1 s steps, none twice."""
    limiter, clock = bucket(rate=10, burst=10)
    start = threading.Barrier(20)

    def worker() -> None:
        start.wait()
        limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.sleeps) == pytest.approx([n / 10 for n in range(1, 11)])


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(-1)
