"""The one bounded retry loop: exponential backoff with full jitter.

Only `RetryableError` is retried (throttling, busy, TikTok server errors, transport failures;
docs/tiktok-api.md §5.2 and the project's "Errors" default). Whether a *create* may be retried at
all is decided by the client before an error reaches this loop: it turns an unsafe one into
`AmbiguousWriteError`, which is not retryable (docs/tiktok-api.md §7).

Full jitter (sleep a uniform random time up to the exponential bound) spreads retries from
parallel callers so they do not hit TikTok's per-app budget again in lockstep.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sync.tiktok.errors import RetryableError, ThrottledError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # attempts in all, the first one included
    base_delay: float = 1.0  # bound of the first backoff, doubled per retry
    max_delay: float = 30.0  # no single backoff is longer than this
    max_total_wait: float = 60.0  # seconds of backoff per call, summed over its retries
    # Throttling is per second at TikTok ("QPS exceeded: retry after the current second",
    # docs/tiktok-api.md §5.1), so a throttled call never comes back sooner than this.
    throttle_min_delay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("retry delays must be >= 0")

    def bound(self, retry: int) -> float:
        """Upper bound of the backoff before retry number `retry` (1 for the first retry)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (retry - 1)))

    def delay(self, retry: int, error: RetryableError, random: Callable[[], float]) -> float:
        jittered = random() * self.bound(retry)
        if isinstance(error, ThrottledError):
            return max(jittered, self.throttle_min_delay)
        return jittered


def call_with_retry(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    random: Callable[[], float] = _random.random,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `call` until it returns, raises a non-retryable error, or the policy is spent.

    When the policy is spent, the last `RetryableError` is raised with `attempts` set, so its
    message says how many attempts were made. `deadline` (a `clock()` value) also ends the
    retries: no backoff runs past it.
    """
    attempt = 1
    waited = 0.0
    while True:
        try:
            return call()
        except RetryableError as err:
            error = err
        # Handled outside the `except` block so the next attempt's error is not chained to
        # this one (keeps tracebacks short; each error is self-contained).
        delay = policy.delay(attempt, error, random)
        out_of_time = deadline is not None and clock() + delay >= deadline
        if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait or out_of_time:
            error.attempts = attempt
            logger.info(
                "giving up on %s after %d attempts (%.2f s of backoff): code %s, request_id %s",
                error.endpoint,
                attempt,
                waited,
                error.code,
                error.request_id,
            )
            raise error
        logger.info(
            "retrying %s after %s (code %s, request_id %s): attempt %d of %d in %.2f s",
            error.endpoint,
            type(error).__name__,
            error.code,
            error.request_id,
            attempt + 1,
            policy.max_attempts,
            delay,
        )
        sleep(delay)
        waited += delay
        attempt += 1
