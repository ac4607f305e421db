"""The bounded retry loop, with injected sleep and random: nothing really waits."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from sync.tiktok import (
    AmbiguousWriteError,
    AuthError,
    RetryableError,
    RetryPolicy,
    ServerError,
    ThrottledError,
    TikTokError,
    call_with_retry,
)


def failing(errors: list[TikTokError], result: str = "done") -> Callable[[], str]:
    """A call that raises the given errors in turn, then returns `result`."""
    calls = iter(errors)

    def call() -> str:
        error = next(calls, None)
        if error is not None:
            raise error
        return result

    return call


def server_error(request_id: str = "r") -> ServerError:
    return ServerError("System error", endpoint="POST m/", code=50000, request_id=request_id)


@pytest.mark.parametrize("failures", [0, 1, 4], ids=["first-try", "one-failure", "four-failures"])
def test_retryable_error_succeeds_after_n_failures(failures: int) -> None:
    sleeps: list[float] = []
    call = failing([server_error() for _ in range(failures)])
    result = call_with_retry(call, policy=RetryPolicy(), sleep=sleeps.append, random=lambda: 0.5)
    assert result == "done"
    assert len(sleeps) == failures


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(AuthError("expired", endpoint="GET a/", code=40102), id="auth"),
        pytest.param(AmbiguousWriteError("timed out", endpoint="POST c/"), id="ambiguous-write"),
    ],
)
def test_non_retryable_error_is_raised_at_once(error: TikTokError) -> None:
    sleeps: list[float] = []
    with pytest.raises(type(error)) as raised:
        call_with_retry(failing([error]), policy=RetryPolicy(), sleep=sleeps.append)
    assert raised.value is error
    assert sleeps == []


def test_attempts_are_bounded_and_the_error_names_them() -> None:
    sleeps: list[float] = []
    call = failing([server_error(str(n)) for n in range(10)])
    with pytest.raises(ServerError) as raised:
        call_with_retry(call, policy=RetryPolicy(max_attempts=3), sleep=sleeps.append)
    assert raised.value.attempts == 3
    assert raised.value.request_id == "2"  # the last attempt's error
    assert "failed after 3 attempts" in str(raised.value)
    assert len(sleeps) == 2


def test_total_wait_is_bounded() -> None:
    """Bounds 1, 2, 4, 8…; with random()=1.0 the budget of 5 s allows 1 + 2 and not the 4."""
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=10, base_delay=1, max_total_wait=5)
    with pytest.raises(ServerError) as raised:
        call_with_retry(
            failing([server_error() for _ in range(10)]),
            policy=policy,
            sleep=sleeps.append,
            random=lambda: 1.0,
        )
    assert sleeps == [1.0, 2.0]
    assert raised.value.attempts == 3
    assert sum(sleeps) <= policy.max_total_wait


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3)
    assert [policy.bound(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999], ids=["low", "mid", "high"])
def test_backoff_is_full_jitter_within_the_bound(draw: float) -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, base_delay=1, max_delay=30, max_total_wait=1000)
    call_with_retry(
        failing([server_error() for _ in range(4)]),
        policy=policy,
        sleep=sleeps.append,
        random=lambda: draw,
    )
    assert sleeps == pytest.approx([draw * bound for bound in (1, 2, 4, 8)])


def test_throttled_retry_waits_at_least_until_the_next_second() -> None:
    sleeps: list[float] = []
    throttled = ThrottledError("Too frequent", endpoint="POST m/", code=40100)
    policy = RetryPolicy()
    call_with_retry(failing([throttled]), policy=policy, sleep=sleeps.append, random=lambda: 0)
    assert sleeps == [1.0]


def test_each_retry_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sync.tiktok")
    call_with_retry(
        failing([server_error("req-7")]),
        policy=RetryPolicy(),
        sleep=lambda _: None,
        random=lambda: 0.5,
    )
    (record,) = [r for r in caplog.records if r.message.startswith("retrying")]
    assert record.levelno == logging.INFO
    assert record.message == (
        "retrying POST m/ after ServerError (code 50000, request_id req-7): "
        "attempt 2 of 5 in 0.50 s"
    )


def test_plain_retryable_error_is_retried() -> None:
    busy = RetryableError("Write conflict", endpoint="POST m/", code=40202)
    assert call_with_retry(failing([busy]), policy=RetryPolicy(), sleep=lambda _: None) == "done"
