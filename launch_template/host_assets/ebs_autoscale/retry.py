"""Backoff with full jitter for throttled and transient AWS errors."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from .config import RetryPolicy
from .ports import Clock

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Error codes worth retrying: throttling and server-side trouble.
TRANSIENT_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
    }
)


def error_code(error: BaseException) -> str:
    """The AWS error code of a ``ClientError``, else the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def is_transient(error: BaseException) -> bool:
    """True for throttling, 5xx-like codes and connection trouble."""
    if isinstance(error, ClientError):
        return error_code(error) in TRANSIENT_CODES
    return isinstance(error, (ConnectionError, HTTPClientError))


class RetriesExhausted(Exception):
    """A call kept failing transiently; ``last`` is the final error."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{what}: gave up after {attempts} attempts ({error_code(last)}: {last})")
        self.last = last


class Retrier:
    """Calls a function, retrying transient errors with capped exponential backoff and jitter."""

    def __init__(
        self, policy: RetryPolicy, clock: Clock, rng: Callable[[float, float], float] | None = None
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.uniform

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**attempt)]."""
        cap = min(self.policy.max_delay_s, self.policy.base_delay_s * (2**attempt))
        return self.rng(0.0, cap)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Return ``fn()``; transient errors are retried, others raised at once."""
        attempts = max(1, self.policy.max_attempts)
        for attempt in range(attempts):
            try:
                return fn()
            except (ClientError, BotoCoreError) as error:
                if not is_transient(error):
                    raise
                if attempt == attempts - 1:
                    raise RetriesExhausted(what, attempts, error) from error
                pause = self.delay(attempt)
                log.warning(
                    "event=retry call=%s code=%s attempt=%d delay_s=%.2f",
                    what,
                    error_code(error),
                    attempt + 1,
                    pause,
                )
                self.clock.sleep(pause)
        raise AssertionError("unreachable")
