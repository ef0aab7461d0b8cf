"""Error lines that would repeat every poll or tick, at most once per `interval_s` each.

A key of the wrong type fails the same call every poll (twenty times a second by default) until
an operator fixes it: the first failure is logged at once, the next only once the interval has
passed (with how many were left out meanwhile), and the end of the failures once (`recovered`).
"""

import time
from typing import Any

import structlog

log = structlog.get_logger("jobqueue.worker")

ERROR_LOG_INTERVAL_S = 60.0


MAX_TRACKED = 1000  # distinct (event, about) pairs remembered; the oldest are forgotten


class ThrottledLog:
    def __init__(self, interval_s: float = ERROR_LOG_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}  # when each was last logged
        self._left_out: dict[tuple[str, str], int] = {}  # failures not logged since

    def error(self, event: str, *, about: str = "", **fields: Any) -> None:
        """Log `event` unless it was, `about` the same thing, within the interval."""
        now, which = time.monotonic(), (event, about)
        last = self._last.get(which)
        if last is not None and now - last < self.interval_s:
            self._left_out[which] = self._left_out.get(which, 0) + 1
            return
        if len(self._last) >= MAX_TRACKED:
            oldest = min(self._last, key=self._last.__getitem__)
            self._last.pop(oldest)
            self._left_out.pop(oldest, None)
        self._last[which] = now
        log.error(event, repeats_left_out=self._left_out.pop(which, 0), **fields)

    def recovered(self, event: str, recovery: str) -> None:
        """`event` has stopped failing (about anything): log `recovery` once (nothing if it
        never failed)."""
        failed = [which for which in self._last if which[0] == event]
        for which in failed:
            self._last.pop(which)
        if failed:
            left_out = sum(self._left_out.pop(which, 0) for which in failed)
            log.info(recovery, repeats_left_out=left_out)
