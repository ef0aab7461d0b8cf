"""Event-driven pickup: a replacement for arq's `poll`, so the worker wakes when a job is
enqueued instead of waiting for its next poll.

Matches arq 0.28.0, whose `Worker.main` runs `async for _ in poll(self.poll_delay_s)` with `poll`
looked up as a module global of `arq.worker` each time it runs (after `on_startup`). Every job
would otherwise wait up to `poll_delay` before it starts, and an arq tuned for speed polls Redis
many times a second even when idle. The enqueue script publishes on the queue's wake-up channel
when it adds a job that is due now; each worker listens (`listen`), and `WakeUp.poll` iterates
as soon as a job is published, shortly after a job finishes (freeing a slot), or when
`poll_delay` passes, whichever comes first. `poll_delay` then only bounds how late a deferred
job or a retry starts. The canary in tests/unit/test_seams.py fails if `Worker.main` changes.
Remove when arq's worker can be woken (or when arq's worker is vendored).
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import arq.worker
import structlog
from arq.connections import ArqRedis

from jobqueue.store.wakeups import wake_ups

log = structlog.get_logger("jobqueue.worker")

# After a slot frees up, wait this long so that one poll starts many jobs (a burst of finishing
# jobs wakes us once); a newly published job is started without waiting.
SLOT_GAP_S = 0.01


class WakeUp:
    def __init__(self) -> None:
        self._event = asyncio.Event()  # anything to do
        self._job_due = asyncio.Event()  # a new job is due now
        self._slot_freed = False

    def wake(self) -> None:
        """A job is due now: start it at once."""
        self._job_due.set()
        self._event.set()

    def slot_freed(self) -> None:
        """A job finished: jobs may be waiting for its slot. Poll again soon, batching such
        wake-ups (a busy worker frees slots hundreds of times a second)."""
        self._slot_freed = True
        self._event.set()

    async def poll(self, step: float) -> AsyncIterator[float]:
        """A drop-in for `arq.utils.poll`: yields, then waits for a wake-up or `step`."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            self._event.clear()
            self._job_due.clear()
            self._slot_freed = False
            yield loop.time() - start
            if not self._event.is_set():
                await _wait(self._event, step)
            if self._slot_freed and not self._job_due.is_set():
                await _wait(self._job_due, SLOT_GAP_S)  # a new job ends the gap at once

    def install(self) -> Callable[[], None]:
        """Make arq's worker loop use `poll`; returns the undo."""
        original = arq.worker.poll  # type: ignore[attr-defined]
        setattr(arq.worker, "poll", self.poll)  # noqa: B010 - a module global arq reads
        return lambda: setattr(arq.worker, "poll", original)

    async def listen(self, redis: ArqRedis, queue_name: str) -> None:
        """Wake on every publish to the queue's channel; resubscribe after a Redis outage."""
        while True:
            try:
                async for _ in wake_ups(redis, queue_name):
                    self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep listening; polling covers the gap
                log.warning("worker.wakeup_listener_failed", error=repr(exc))
                await asyncio.sleep(1)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
