"""Retries as a general mechanism: a job raises `RetryableError` for a transient failure.

The worker turns it into arq's `Retry` with capped exponential backoff and full jitter until the
job's `max_tries` is used up; then the original error becomes the job's final error. Any other
exception fails the job at once.
"""

import random
from dataclasses import dataclass


class RetryableError(Exception):
    """A transient failure: the job will be tried again if it has tries left.

    `retry_after` (seconds) is a lower bound asked for by the failing dependency, e.g. from a
    `Retry-After` header; the policy's cap still applies.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class BackoffPolicy:
    base_delay: float
    max_delay: float

    def delay(self, failed_try: int, retry_after: float | None = None) -> float:
        """Seconds to wait after try number `failed_try` (1-based) failed."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failed_try - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, never ~0
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay
