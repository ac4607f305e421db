"""The rate limiter, driven by a fake clock: nothing really sleeps, and a sleep moves the clock
on by what was asked (plus, where a test says so, a late wake-up)."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from sync.tiktok import RateLimiter


class FakeClock:
    def __init__(self, late: list[float] | None = None) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.late = list(late or [])  # how much later than asked each sleep ends, in turn

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + (self.late.pop(0) if self.late else 0.0)


def limiter(
    rate: float | None,
    burst: int | None = None,
    margin: float = 0.0,
    late: list[float] | None = None,
) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(late)
    return RateLimiter(rate, burst, margin=margin, clock=clock, sleep=clock.sleep), clock


def starts_of(rate_limiter: RateLimiter, clock: FakeClock, calls: int, gap: float) -> list[float]:
    """When each of `calls` calls started, callers arriving every `gap` seconds."""
    starts = []
    for _ in range(calls):
        rate_limiter.acquire()
        starts.append(clock.now)
        clock.now += gap
    return starts


def test_calls_are_spaced_evenly_by_default() -> None:
    """10/s: one call every 105 ms (100 ms plus the 5% margin), never two at once."""
    clock = FakeClock()
    rate_limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    assert rate_limiter.burst == 1
    starts = starts_of(rate_limiter, clock, 5, gap=0.0)
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([0.105] * 4)


def test_a_burst_goes_through_then_the_next_waits_for_the_window() -> None:
    """10/s in bursts of 10: the 11th call starts a second after the 1st, not 0.1 s after."""
    rate_limiter, clock = limiter(rate=10, burst=10)
    waits = [rate_limiter.acquire() for _ in range(12)]
    assert waits == pytest.approx([0.0] * 10 + [1.0, 0.0])
    assert clock.now == pytest.approx(101.0)


def test_never_more_than_rate_calls_in_any_second() -> None:
    """The property a token bucket lacks: a full bucket plus refill is twice the QPS budget."""
    rate_limiter, clock = limiter(rate=10, burst=10)
    starts = starts_of(rate_limiter, clock, 45, gap=0.03)  # faster than the budget
    for first in starts:
        assert sum(first <= s < first + 1.0 for s in starts) <= 10


def test_a_late_wake_up_delays_the_calls_after_it() -> None:
    """A thread that wakes 50 ms late starts 50 ms late, and the next call is spaced from that
    start, not from when the late one was due: two calls never reach TikTok closer together."""
    rate_limiter, clock = limiter(rate=10, late=[0.05])
    starts = starts_of(rate_limiter, clock, 3, gap=0.0)
    assert starts == pytest.approx([100.0, 100.15, 100.25])


def test_an_idle_limiter_lets_a_full_burst_through_again() -> None:
    rate_limiter, clock = limiter(rate=10, burst=3)
    for _ in range(3):
        rate_limiter.acquire()
    clock.now += 60
    assert [rate_limiter.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 0.3])


@pytest.mark.parametrize("rate", [0, None], ids=["zero", "none"])
def test_zero_or_none_disables_pacing(rate: float | None) -> None:
    rate_limiter, clock = limiter(rate)
    assert not rate_limiter.enabled
    assert [rate_limiter.acquire() for _ in range(1000)] == [0.0] * 1000
    assert clock.sleeps == []


def test_concurrent_callers_never_start_closer_than_the_spacing() -> None:
    """25 threads at one instant on the real clock (1,000/s, so it takes ~25 ms): every call
    gets through, and the starts the limiter admitted, each the last clock reading of its
    thread, are at least 1 ms apart. An invariant of the limiter's own readings, not a timing."""
    reads: dict[int, float] = {}

    def clock() -> float:
        reads[threading.get_ident()] = now = time.monotonic()
        return now

    rate_limiter = RateLimiter(1000, margin=0.0, clock=clock)
    start = threading.Barrier(25)

    def worker() -> None:
        start.wait()
        rate_limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    starts = sorted(reads.values())
    assert len(starts) == 25
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.001 - 1e-6


@pytest.mark.parametrize(
    ("rate", "burst", "margin"),
    [(-1, None, 0.0), (10, 0, 0.0), (10, None, -0.1)],
    ids=["negative-rate", "burst-0", "negative-margin"],
)
def test_nonsense_settings_are_refused(rate: float, burst: int | None, margin: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst, margin=margin)


def test_never_more_than_the_per_minute_quota_in_any_minute() -> None:
    """TikTok's Basic tier: 600 a minute, a 5-minute pause past it (docs/tiktok-api.md §5.1). At
    20/s (a --requests-per-second above the tier's 10) the 601st call waits for the minute."""
    clock = FakeClock()
    rate_limiter = RateLimiter(20, per_minute=600, margin=0.0, clock=clock, sleep=clock.sleep)
    starts = starts_of(rate_limiter, clock, 1500, gap=0.0)
    for i, first in enumerate(starts):
        assert sum(first <= s < first + 60.0 for s in starts[i : i + 601]) <= 600
    assert starts[600] >= starts[0] + 60.0
    # Within the minute the per-second pace still holds: 600 calls take 30 s at 20/s.
    assert starts[599] - starts[0] == pytest.approx(29.95)
