"""The rate limiter, driven by a fake clock: nothing really sleeps."""

from __future__ import annotations

import threading

import pytest

from sync.tiktok import RateLimiter


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


def limiter(rate: float | None, burst: int | None = None) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_a_burst_goes_through_then_the_next_waits_for_the_window() -> None:
    """10/s in bursts of 10: the 11th call starts a second after the 1st, not 0.1 s after."""
    rate_limiter, clock = limiter(rate=10, burst=10)
    waits = [rate_limiter.acquire() for _ in range(12)]
    assert waits == pytest.approx([0.0] * 10 + [1.0, 1.0])
    assert clock.sleeps == pytest.approx([1.0, 1.0])


def test_never_more_than_rate_calls_in_any_second() -> None:
    """The property a token bucket lacks: a full bucket plus refill is twice the QPS budget."""
    rate_limiter, clock = limiter(rate=10, burst=10)
    starts: list[float] = []
    for _ in range(45):
        starts.append(clock.now + rate_limiter.acquire())
        clock.now += 0.03  # callers arrive every 30 ms, faster than the budget
    for first in starts:
        assert sum(first <= s < first + 1.0 for s in starts) <= 10


def test_burst_one_spaces_calls_by_one_over_rate() -> None:
    rate_limiter, _ = limiter(rate=4, burst=1)
    assert [rate_limiter.acquire() for _ in range(3)] == pytest.approx([0, 0.25, 0.5])


def test_an_idle_limiter_lets_a_full_burst_through_again() -> None:
    rate_limiter, clock = limiter(rate=10, burst=3)
    for _ in range(3):
        rate_limiter.acquire()
    clock.now += 60
    assert [rate_limiter.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 0.3])


def test_default_burst_is_one_second_of_rate() -> None:
    rate_limiter, _ = limiter(rate=10)
    assert rate_limiter.burst == 10
    assert limiter(rate=0.5)[0].burst == 1  # one call per two seconds


@pytest.mark.parametrize("rate", [0, None], ids=["zero", "none"])
def test_zero_or_none_disables_pacing(rate: float | None) -> None:
    rate_limiter, clock = limiter(rate)
    assert not rate_limiter.enabled
    assert [rate_limiter.acquire() for _ in range(1000)] == [0.0] * 1000
    assert clock.sleeps == []


def test_concurrent_callers_each_reserve_their_own_slot() -> None:
    """25 threads at one instant, 10/s in bursts of 10: 10 go now, 10 at +1 s, 5 at +2 s."""
    rate_limiter, clock = limiter(rate=10, burst=10)
    start = threading.Barrier(25)

    def worker() -> None:
        start.wait()
        rate_limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.sleeps) == pytest.approx([1.0] * 10 + [2.0] * 5)


@pytest.mark.parametrize(("rate", "burst"), [(-1, None), (10, 0)], ids=["negative-rate", "burst-0"])
def test_nonsense_settings_are_refused(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


def test_never_more_than_the_per_minute_quota_in_any_minute() -> None:
    """TikTok's Basic tier: 600 a minute, a 5-minute pause past it (docs/tiktok-api.md §5.1). At
    20/s (a --requests-per-second above the tier's 10) the 601st call waits for the minute."""
    clock = FakeClock()
    rate_limiter = RateLimiter(20, per_minute=600, clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    for _ in range(1500):
        starts.append(clock.now + rate_limiter.acquire())
        clock.now = starts[-1]  # the caller runs when its wait is over
    for i, first in enumerate(starts):
        assert sum(first <= s < first + 60.0 for s in starts[i : i + 601]) <= 600
    assert starts[600] >= starts[0] + 60.0
    # Within the minute the per-second pace still holds: 600 calls take 30 s at 20/s.
    assert starts[599] - starts[0] == pytest.approx(29.0, abs=1.0)
