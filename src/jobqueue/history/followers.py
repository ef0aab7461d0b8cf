"""What one follower of events waits on: a `Feed` (every job's events, in a bounded buffer: one
that falls its limit behind is ended) or a `JobWatch` (one job's wake-ups); and `Following`, a
follower's events holding its subscription. `jobqueue.history.fanout` hands events to them.
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, Self

import structlog

from jobqueue.history.streams import Event

if TYPE_CHECKING:  # (the fan-out makes them: it imports this module)
    from jobqueue.history.fanout import Fanout

log = structlog.get_logger("jobqueue.events")


class StreamEnded(Exception):
    """The fan-out ended a subscription (not Redis): its follower just stops."""


class Subscription:
    """What one follower waits on. Closing it (idempotent) frees its place at once."""

    def __init__(self, fanout: "Fanout") -> None:
        self._fanout = fanout
        self._ready = asyncio.Event()
        self._ended: BaseException | None = None
        self.closed = False

    async def start(self) -> None:
        """Make sure the process's reader is reading (call before reading the past)."""
        await self._fanout.start()

    def end(self, cause: BaseException) -> None:
        if self._ended is None:
            self._ended = cause
        self._ready.set()

    def _raise_if_ended(self) -> bool:
        """Raises a Redis error that ended it; True if the fan-out ended it."""
        if self._ended is None:
            return False
        if isinstance(self._ended, StreamEnded):
            return True
        raise self._ended.with_traceback(None)  # (raised in every follower: no shared trace)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._fanout.remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Feed(Subscription):
    """A follower of every job's events."""

    def __init__(self, fanout: "Fanout", limit: int) -> None:
        super().__init__(fanout)
        self._pending: list[Event] = []
        self._limit = limit

    def deliver(self, events: list[Event]) -> None:
        if self._ended is not None:
            return
        if len(self._pending) + len(events) > self._limit:
            self._pending.clear()
            log.warning("events.follower_too_slow", behind=self._limit)
            self.end(StreamEnded(f"fell {self._limit} events behind"))
            return
        self._pending.extend(events)
        self._ready.set()

    async def next_events(self) -> list[Event] | None:
        """The events delivered since the last call (waits for one); None once ended by the
        fan-out. Raises the Redis error that ended it (after what came before it)."""
        while not self._pending:
            if self._raise_if_ended():
                return None
            await self._ready.wait()
            self._ready.clear()
        events, self._pending = self._pending, []
        return events


class JobWatch(Subscription):
    """A follower of one job: told when the job has a new event."""

    def __init__(self, fanout: "Fanout", job_id: str) -> None:
        super().__init__(fanout)
        self.job_id = job_id

    def wake(self) -> None:
        self._ready.set()

    async def news(self, timeout: float | None = None) -> bool:
        """Waits until the job has an event since the last call (True), or `timeout` seconds
        pass or the fan-out ends the watch (False). Raises the Redis error that ended it."""
        if not self._ready.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
        if self._raise_if_ended() or not self._ready.is_set():
            return False
        self._ready.clear()
        return True


class Following:
    """One follower's events, holding its subscription: closing it frees its place even if
    the events were never read (a generator closed before it starts runs no cleanup)."""

    def __init__(
        self,
        subscription: Subscription,
        events: AsyncGenerator[list[Event], None],
        *,
        source: "Following | None" = None,
    ) -> None:
        self._subscription = subscription
        self._events = events
        self._source = source  # what `mapped` read from, closed with it

    def __aiter__(self) -> AsyncIterator[list[Event]]:
        return self._events

    def mapped(
        self,
        transform: Callable[[AsyncGenerator[list[Event], None]], AsyncGenerator[list[Event], None]],
    ) -> "Following":
        """The same follower's events passed through `transform` (e.g. one tenant's only)."""
        return Following(self._subscription, transform(self._events), source=self)

    async def aclose(self) -> None:
        self._subscription.close()
        await self._events.aclose()
        if self._source is not None:
            await self._source.aclose()
