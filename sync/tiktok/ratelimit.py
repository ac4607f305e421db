"""A thread-safe rate limiter that keeps one client under TikTok's per-app request budget.

TikTok sends no rate-limit headers and no HTTP 429; going over the budget shows up as code 40100
(docs/tiktok-api.md §5.1). Pacing ourselves at the Basic tier (10 requests/s) avoids those round
trips. The budget is per app at TikTok, so one limiter is shared by every call of a client.

Calls are spaced evenly, `1 / rate` apart plus a margin (MARGIN), not let through in bursts.
TikTok counts requests when they reach it, and the way there (a busy sending thread, the network,
TikTok's gateway) delays some more than others: ten calls started at once arrive spread out, and
the next ten, a second later, arrive bunched, so that some one-second window at TikTok holds
eleven. Evenly spaced calls with 5 ms of margin each (50 ms per second) tolerate that much
difference between two requests' delays. Measured against the emulator at 300 ms of latency,
bursts of 10 got 12-18 of ~75 mapping requests throttled; evenly spaced with the margin, none
on a lightly loaded machine and 2-3 under a load of 4 (bench/README.md, "Evenly spaced
requests"). The margin costs 5% of the quota.

A call's start is when it leaves `acquire`, not when it was due: a thread that wakes late starts
late, and the calls after it are spaced from when it really went.

TikTok also counts requests per minute (Basic tier: 600/min), and going over it costs a 5-minute
pause, not a second (docs/tiktok-api.md §5.1): `per_minute` keeps at most that many calls in any 60
s window, whatever `rate` allows (a `--requests-per-second` above the tier's 10, retries).
Why a sliding window and not a token bucket: a full bucket of `burst` tokens plus its refill lets
through `burst + rate` calls in the first second, twice the budget; here at most `burst` calls
start in any `burst / rate` seconds (times 1 + MARGIN).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0
MARGIN = 0.05  # of each call's share of a second: 5 ms at 10/s (see above)


class RateLimiter:
    """`rate` calls per second (less `margin`), in bursts of up to `burst` (default 1: evenly
    spaced), and at most `per_minute` calls in any minute; `rate` 0 or None turns pacing off."""

    def __init__(
        self,
        rate: float | None = 10.0,
        burst: int | None = None,
        *,
        per_minute: int | None = None,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError(f"rate must be >= 0 requests/s, got {rate}")
        self.rate = float(rate or 0.0)
        self.burst = burst if burst is not None else 1
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.window = self.burst / self.rate * (1 + margin) if self.rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Start times of the last `burst` calls, oldest first.
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

        The lock is not held while waiting: a caller sleeps until the earliest moment a call may
        start, then checks again, and waits again if another caller took that moment.
        """
        if not self.enabled:
            return 0.0
        entered = self._clock()
        while True:
            with self._lock:
                now = self._clock()
                start = now
                if len(self._starts) == self.burst:
                    start = max(now, self._starts[0] + self.window)
                if self.per_minute and len(self._minute) == self.per_minute:
                    start = max(start, self._minute[0] + MINUTE)
                if start <= now:
                    self._starts.append(now)  # drops the oldest: maxlen is `burst`
                    if self.per_minute:
                        self._minute.append(now)
                    return now - entered
            self._sleep(start - now)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(rate={self.rate}, burst={self.burst}, per_minute={self.per_minute}, "
            f"window={self.window})"
        )
