"""A thread-safe token bucket that keeps one client under TikTok's per-app request budget.

TikTok sends no rate-limit headers and no HTTP 429; going over the budget shows up as code 40100
(reference §5.1). Pacing ourselves below the Basic tier (10 requests/s) avoids most of those
round trips. The budget is per app at TikTok, so one bucket is shared by every call of a client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; `rate` 0 or None turns pacing off."""

    def __init__(
        self,
        rate: float | None = 10.0,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError(f"rate must be >= 0 requests/s, got {rate}")
        self.rate = float(rate or 0.0)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the seconds this caller waited.

        A caller that finds the bucket empty reserves the next token by driving the balance
        negative, then sleeps outside the lock: concurrent callers queue up in order without
        holding the lock while they wait.
        """
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate}, burst={self.burst})"
