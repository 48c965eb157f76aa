"""Adaptive rate control and retries for AWS API calls (SubmitJob, DescribeJobs, ...).

``AdaptiveRateLimiter`` hands out call slots at a rate that starts from config,
halves on every throttling error and creeps back up after a run of successes.
``call_with_retries`` runs one call through a limiter and retries throttling and
5xx errors with full jitter. Clock, sleeper and randomness are injected, so
tests check behaviour without waiting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

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
    """Call slots at an adaptive rate (calls per second); thread-safe.

    ``acquire`` blocks (through the injected ``sleep``) until the caller's slot.
    ``on_throttle`` halves the rate (not below ``min_rate``); every
    ``recover_after`` successes in a row multiply it by ``recover_factor`` up
    to the starting rate.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_rate: float = 0.1,
        recover_after: int = 10,
        recover_factor: float = 1.25,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self._clock = clock
        self._sleep = sleep
        self._recover_after = recover_after
        self._recover_factor = recover_factor
        self._successes = 0
        self._next_slot = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the next free slot."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            self._sleep(slot - now)

    def on_throttle(self) -> None:
        """AWS said slow down: halve the rate."""
        with self._lock:
            self.rate = max(self.min_rate, self.rate / 2)
            self._successes = 0
            self._next_slot = max(self._next_slot, self._clock() + 1.0 / self.rate)

    def on_success(self) -> None:
        """A call went through: after a run of them, speed up again."""
        with self._lock:
            self._successes += 1
            if self._successes >= self._recover_after and self.rate < self.max_rate:
                self.rate = min(self.max_rate, self.rate * self._recover_factor)
                self._successes = 0


def call_with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    limiter: AdaptiveRateLimiter,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
) -> T:
    """Run ``call`` through ``limiter``; retry throttling and 5xx up to ``attempts`` tries."""
    rng = rng or random.Random()
    for attempt in range(1, attempts + 1):
        limiter.acquire()
        try:
            result = call()
        except ClientError as err:
            if not is_retryable(err) or attempt >= attempts:
                raise
            if is_throttling(err):
                limiter.on_throttle()
            sleep(rng.uniform(0, min(max_delay, base_delay * 2**attempt)))
            continue
        limiter.on_success()
        return result
    raise AssertionError("unreachable: attempts must be >= 1")
