"""Adaptive rate control and retries for AWS API calls (SubmitJob, DescribeJobs, ...).

``AdaptiveRateLimiter`` hands out call tokens at a rate that starts from config,
halves on every throttling error and grows additively with successes, between a
floor and a ceiling; ``try_acquire`` answers at once, so the scheduler thread
never waits for it. ``call_with_retries`` runs one call (through a limiter, when
given) and retries throttling and 5xx errors with full jitter. Clock, sleeper and
randomness are injected, so tests check behaviour without waiting.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")
log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)


def is_throttling(err: ClientError) -> bool:
    """Whether AWS asked us to slow down."""
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in THROTTLING_CODES or status == 429


def is_retryable(err: ClientError) -> bool:
    """Throttling or a server-side (5xx) error: worth another try."""
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = err.response.get("Error", {}).get("Code", "")
    return is_throttling(err) or status >= 500 or code in ("ServerException", "InternalError")


class AdaptiveRateLimiter:
    """Call tokens at an adaptive rate (calls per second, AIMD); thread-safe.

    Tokens accumulate at ``rate`` up to one second's worth (a tick may spend what
    it saved; the bucket starts full). ``try_acquire`` takes one if there is one and never waits;
    ``acquire`` waits for it (through the injected ``sleep``). ``on_throttle``
    halves the rate (not below ``min_rate``) and empties the bucket; every
    success adds ``increase`` calls per second, up to ``max_rate``. One log
    line when throttling starts, one when the rate is back at its start.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_rate: float = 0.1,
        max_rate: float | None = None,
        increase: float | None = None,
        name: str = "AWS API",
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.start_rate = rate
        self.max_rate = max(rate, max_rate or rate)
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self.increase = increase if increase is not None else rate / 20
        self.name = name
        self.throttled = False
        self._clock = clock
        self._sleep = sleep
        self._tokens = max(1.0, rate)  # a full bucket: one second's worth
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> float:
        now = self._clock()
        capacity = max(1.0, self.rate)
        self._tokens = min(capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return now

    def ready(self) -> bool:
        """Whether a call could go now (a token is there); takes nothing."""
        with self._lock:
            self._refill()
            return self._tokens >= 1.0

    def try_acquire(self) -> bool:
        """Take a token if there is one now; never waits."""
        with self._lock:
            self._refill()
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    def acquire(self) -> None:
        """Wait for the next token."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def on_throttle(self) -> None:
        """AWS said slow down: halve the rate, spend what was saved."""
        with self._lock:
            self._refill()
            self.rate = max(self.min_rate, self.rate / 2)
            self._tokens = min(self._tokens, 0.0)
            started, self.throttled = not self.throttled, True
        if started:
            log.warning("%s throttled: slowing down to %.2f calls/s", self.name, self.rate)

    def on_success(self) -> None:
        """A call went through: a little faster again."""
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.increase)
            recovered = self.throttled and self.rate >= self.start_rate
            if recovered:
                self.throttled = False
        if recovered:
            log.info("%s recovered: back at %.2f calls/s", self.name, self.rate)


def call_with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    limiter: AdaptiveRateLimiter | None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
) -> T:
    """Run ``call`` through ``limiter``; retry throttling and 5xx up to ``attempts`` tries.

    Without a limiter the caller paces the calls and reads throttling itself (a
    ``call`` that turns throttling into another exception is not retried for it).
    """
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        if limiter is not None:
            limiter.acquire()
        try:
            result = call()
        except ClientError as err:
            if not is_retryable(err) or attempt >= attempts:
                raise
            if is_throttling(err) and limiter is not None:
                limiter.on_throttle()
            sleep(rng.uniform(0, min(max_delay, base_delay * 2**attempt)))
            continue
        if limiter is not None:
            limiter.on_success()
        return result
    raise AssertionError("unreachable: attempts must be >= 1")
