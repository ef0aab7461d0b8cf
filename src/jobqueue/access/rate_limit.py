"""Per-key enqueue rate limits: a token bucket of `rate_per_second`, holding twice that.

Kept in the API process (no Redis round trip on the hot route): with N API processes behind a
balancer a key may enqueue up to N times its rate. A bucket is made the first time a key
enqueues and replaced when the keys file changes the key's rate.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

BURST_SECONDS = 2.0  # a bucket holds this many seconds' worth of its rate


@dataclass
class TokenBucket:
    rate: float  # tokens a second
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self._at = self.clock()

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate * BURST_SECONDS)  # (one enqueue always fits)

    def take(self, count: int = 1) -> float:
        """Take `count` tokens if there are as many: 0.0. If not, none are taken, and the
        answer is the seconds until there will be (infinite if `count` is over the capacity)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if count <= self.tokens:
            self.tokens -= count
            return 0.0
        if count > self.capacity:
            return float("inf")
        return (count - self.tokens) / self.rate


class RateLimits:
    """One bucket per key name, at the key's current rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key_name: str, rate: float, count: int = 1) -> float:
        bucket = self._buckets.get(key_name)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[key_name] = TokenBucket(rate, self._clock)
        return bucket.take(count)
