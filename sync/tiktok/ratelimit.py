"""A thread-safe rate limiter that keeps one client under TikTok's per-app request budget.

TikTok sends no rate-limit headers and no HTTP 429; going over the budget shows up as code 40100
(docs/tiktok-api.md §5.1). Pacing ourselves at the Basic tier (10 requests/s) avoids those round
trips. The budget is per app at TikTok, so one limiter is shared by every call of a client.

Why a sliding window and not a plain token bucket: a full bucket of `burst` tokens plus its refill
lets through `burst + rate` calls in the first second (20 for 10/s, burst 10), twice a 10 QPS
budget. Here at most `burst` calls start in any window of `burst / rate` seconds: bursts of up to
`burst` calls, never more than `rate` calls per second over that window, and `rate` on average.

TikTok also counts requests per minute (Basic tier: 600/min), and going over it costs a 5-minute
pause, not a second (docs/tiktok-api.md §5.1): `per_minute` keeps at most that many calls in any 60
s window, whatever `rate` allows (a `--requests-per-second` above the tier's 10, retries, bursts).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0


class RateLimiter:
    """`rate` calls per second, in bursts of up to `burst`, and at most `per_minute` calls in any
    minute; `rate` 0 or None turns pacing off."""

    def __init__(
        self,
        rate: float | None = 10.0,
        burst: int | None = None,
        *,
        per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError(f"rate must be >= 0 requests/s, got {rate}")
        self.rate = float(rate or 0.0)
        self.burst = burst if burst is not None else max(1, int(self.rate))
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.window = self.burst / self.rate if self.rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Start times of the last `burst` calls, oldest first (reserved, so possibly future).
        self._starts: deque[float] = deque(maxlen=self.burst)
        if per_minute is not None and per_minute < 1:
            raise ValueError(f"per_minute must be >= 1, got {per_minute}")
        self.per_minute = per_minute
        # Start times of the last `per_minute` calls, the same way.
        self._minute: deque[float] = deque(maxlen=per_minute or 1)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self) -> float:
        """Wait until this call may start; return the seconds waited.

        The start time is reserved under the lock and the sleep happens outside it, so
        concurrent callers queue up in order without holding the lock while they wait.
        """
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self.burst:
                start = max(now, self._starts[0] + self.window)
            if self.per_minute and len(self._minute) == self.per_minute:
                start = max(start, self._minute[0] + MINUTE)
            self._starts.append(start)  # drops the oldest: maxlen is `burst`
            if self.per_minute:
                self._minute.append(start)
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, burst={self.burst}, per_minute={self.per_minute})"
