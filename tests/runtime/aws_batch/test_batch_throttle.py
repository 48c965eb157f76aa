"""Adaptive rate limiter and retries, with an injected clock: no test waits."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError

from ironside.backends.aws_batch.throttle import AdaptiveRateLimiter, call_with_retries

from .batch_helpers import FakeClock


def client_error(code: str, status: int, op: str = "SubmitJob") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        op,
    )


class Flaky:
    """Raises the given errors in turn, then returns 'ok'."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_limiter_spaces_calls_at_its_rate_after_a_second_s_burst(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(4.0, clock=clock, sleep=clock.sleep)
    for _ in range(9):
        limiter.acquire()
    assert clock.now == pytest.approx(1000.0 + 5 * 0.25)  # 4 saved tokens, then 4/s


def test_try_acquire_never_waits(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(2.0, clock=clock, sleep=clock.sleep)
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    assert not limiter.ready() and not clock.sleeps
    clock.now += 0.5
    assert limiter.ready() and limiter.try_acquire() and not limiter.try_acquire()


def test_throttle_halves_and_empties_then_successes_add_up_to_the_ceiling(
    clock: FakeClock,
) -> None:
    limiter = AdaptiveRateLimiter(8.0, clock=clock, sleep=clock.sleep, max_rate=12.0, increase=1)
    limiter.on_throttle()
    limiter.on_throttle()
    assert limiter.rate == 2.0 and not limiter.ready()
    for _ in range(6):
        limiter.on_success()
    assert limiter.rate == 8.0  # additive: 2 + 6 x 1
    for _ in range(200):
        limiter.on_success()
    assert limiter.rate == 12.0


def test_one_log_line_when_throttled_one_when_recovered(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = AdaptiveRateLimiter(4.0, clock=clock, sleep=clock.sleep, increase=1, name="X")
    with caplog.at_level("INFO", logger="ironside.backends.aws_batch.throttle"):
        for _ in range(5):
            limiter.on_throttle()
            limiter.on_success()
        for _ in range(10):
            limiter.on_success()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("X throttled") and lines[1].startswith("X recovered")


def test_rate_never_below_minimum(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(1.0, clock=clock, sleep=clock.sleep, min_rate=0.5)
    for _ in range(10):
        limiter.on_throttle()
    assert limiter.rate == 0.5


def test_throttling_is_retried_and_slowed(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    call = Flaky(
        client_error("TooManyRequestsException", 429), client_error("ThrottlingException", 400)
    )
    result = call_with_retries(
        call, attempts=3, limiter=limiter, sleep=clock.sleep, rng=random.Random(1)
    )
    assert result == "ok"
    assert call.calls == 3
    assert limiter.rate == pytest.approx(2.5 + 0.5)  # halved twice, one success
    assert clock.sleeps  # jittered back-off happened, through the injected sleeper


def test_server_errors_are_retried_without_slowing(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    call = Flaky(client_error("ServerException", 500))
    assert call_with_retries(call, attempts=2, limiter=limiter, sleep=clock.sleep) == "ok"
    assert limiter.rate == 10.0


def test_client_errors_are_not_retried(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    call = Flaky(client_error("ClientException", 400))
    with pytest.raises(ClientError, match="ClientException"):
        call_with_retries(call, attempts=5, limiter=limiter, sleep=clock.sleep)
    assert call.calls == 1


def test_gives_up_after_attempts(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    call = Flaky(*[client_error("TooManyRequestsException", 429)] * 5)
    with pytest.raises(ClientError, match="TooManyRequests"):
        call_with_retries(call, attempts=3, limiter=limiter, sleep=clock.sleep)
    assert call.calls == 3


def test_backoff_grows_and_is_capped(clock: FakeClock) -> None:
    limiter = AdaptiveRateLimiter(1000.0, clock=clock, sleep=clock.sleep)
    call = Flaky(*[client_error("ServerException", 503)] * 9)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    call_with_retries(
        call, attempts=10, limiter=limiter, sleep=clock.sleep, rng=Top(), max_delay=8.0
    )
    backoffs = [s for s in clock.sleeps if s >= 1.0]
    assert backoffs == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
