"""One reader of the all-jobs event stream per API process, fanning its events out.

Each SSE follower and long-poll used to loop on a blocking XREAD of its own, holding a pooled
Redis connection as long as it lived (1,000 streams: 1,004 Redis clients, POST p50 1.15 → 156
ms). Now one task reads `jobqueue:events` (one blocking XREAD at a time, on a connection of the
process's pool, so the pool's bound holds; started with the app, or by the first follower if
Redis was away then) and hands each batch on:

- a `Feed` (a `/v1/events` follower) gets the events themselves (their ids are that stream's),
  into a bounded buffer: one that falls `FEED_BUFFER` events behind is ended (its client
  resumes with `Last-Event-ID`) rather than holding ever more memory. Feeds get them in
  batches, at most one every `FEED_FLUSH_S` (an event after a quiet spell goes out at once):
  a follower's write costs the process some 30 µs whatever it holds, and one per event to a
  thousand followers took 50 ms of every enqueue's event loop (POST p50 2.5 → 54 ms);
- a `JobWatch` (a job's SSE follower, a long-poll) gets a wake-up: a job's own stream numbers
  its entries itself (they are its SSE ids), so the watcher reads that range, a short XRANGE;
  both XADDs are in one script, so once the reader sees an entry the job's own one is there.

Nothing is lost or repeated between a follower's past (read with XRANGE) and its live part: it
subscribes first, then reads the past, and the reader's position was fixed before it read
(`start`): whatever is newer than its read reaches it live; what both bring it skips by id.
Redis unreachable: every subscription ends with the error, as each follower's own read used to
(`ending_streams_on_outage`); the reader retries with backoff from where it was, unrestarted.
At most `max_streams` subscriptions at once: `TooManyStreams` (503) past it. While the reader
reads, `reading` says Redis answers: a new feed needs no round trip to know it.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress

import structlog
from arq.connections import ArqRedis

from jobqueue.errors import TooManyStreams
from jobqueue.history.followers import Feed, JobWatch, StreamEnded, Subscription
from jobqueue.history.streams import Event
from jobqueue.store import streams
from jobqueue.store.outages import OUTAGE_ERRORS, POOL_EXHAUSTED, Circuit
from jobqueue.store.streams import StreamEntry

log = structlog.get_logger("jobqueue.events")

FEED_BUFFER = 1000  # events a feed may fall behind (ten of the reader's batches)
FEED_FLUSH_S = 0.25
BATCH = 100
BLOCK_MS = 1000  # the reader's XREAD; must stay under the pool's socket timeout
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 2.0


class Fanout:
    """The process's one reader of every job's events, and who is subscribed to them."""

    def __init__(
        self, redis: ArqRedis, circuit: Circuit, *, max_streams: int, block_ms: int = BLOCK_MS
    ) -> None:
        self._redis = redis
        self._circuit = circuit
        self._max_streams = max_streams
        self._block_ms = block_ms
        self._feeds: set[Feed] = set()
        self._watches: dict[str, set[JobWatch]] = {}
        self._open = 0
        self._cursor: str | None = None  # the newest id the reader has handed on
        self._reader: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._unsent: list[Event] = []  # for the feeds, at the next flush
        self._flush: asyncio.TimerHandle | None = None
        self._flushed_at = 0.0
        self.reading = False  # its last read of Redis succeeded: Redis answers (a health signal)

    @property
    def subscribers(self) -> int:
        return self._open

    def feed(self) -> Feed:
        """Subscribe to every job's events; raises `TooManyStreams` at `max_streams`."""
        self._admit()
        feed = Feed(self, FEED_BUFFER)
        self._feeds.add(feed)
        return feed

    def watch(self, job_id: str) -> JobWatch:
        """Subscribe to one job's news; raises `TooManyStreams` at `max_streams`."""
        self._admit()
        watch = JobWatch(self, job_id)
        self._watches.setdefault(job_id, set()).add(watch)
        return watch

    def _admit(self) -> None:
        if self._open >= self._max_streams:
            raise TooManyStreams(
                f"this server already serves {self._max_streams} event streams and waiting "
                "long-polls (max_streams); retry later"
            )
        self._open += 1

    def remove(self, subscription: Subscription) -> None:
        self._open -= 1
        if isinstance(subscription, Feed):
            self._feeds.discard(subscription)
        elif isinstance(subscription, JobWatch):
            watches = self._watches.get(subscription.job_id, set())
            watches.discard(subscription)
            if not watches:
                self._watches.pop(subscription.job_id, None)

    async def start(self) -> None:
        """Fix the reader's position (once: it never skips ahead) and start it if it is not."""
        if self._reader is not None:
            return
        async with self._starting:
            if self._reader is None:
                if self._cursor is None:
                    self._cursor = await streams.latest_id(self._redis, streams.ALL_JOBS)
                loop = asyncio.get_running_loop()
                self._reader = loop.create_task(self._read_forever(), name="events-fanout")
                self.reading = True

    async def aclose(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self.reading = False
        self._end_all(StreamEnded("the server is shutting down"))

    async def _read_forever(self) -> None:
        failures = 0
        async for entries in self._batches():
            self.reading = entries is not None
            if entries is None:
                failures += 1
                await asyncio.sleep(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (failures - 1)))
                continue
            if failures:
                log.info("events.reader_healed", after_failures=failures)
                failures = 0
            self._dispatch(entries)

    async def _batches(self) -> AsyncIterator[list[StreamEntry] | None]:
        """Each batch the reader reads, or None after a failed read (it has been dealt with)."""
        while True:
            assert self._cursor is not None
            try:
                self._cursor, entries = await streams.read_new(
                    self._redis, self._cursor, block_ms=self._block_ms, count=BATCH
                )
            except Exception as exc:  # never dies: a planted key or an outage heals
                self._failed(exc)
                yield None
            else:
                yield entries

    def _failed(self, exc: Exception) -> None:
        log.warning("events.reader_failed", error=repr(exc))
        if isinstance(exc, OUTAGE_ERRORS) and str(exc) != POOL_EXHAUSTED:
            self._circuit.trip(exc)
            if self._flush is not None:  # what was read goes out first
                self._flush.cancel()
                self._deliver()
            self._end_all(exc)  # their clients resume with `Last-Event-ID`

    def _dispatch(self, entries: list[StreamEntry]) -> None:
        if self._feeds and entries:
            self._unsent += _events(entries)
            if self._flush is None:
                loop = asyncio.get_running_loop()
                due = max(0.0, self._flushed_at + FEED_FLUSH_S - loop.time())
                self._flush = loop.call_later(due, self._deliver)
        if self._watches:
            for entry in entries:
                for watch in self._watches.get(entry.job_id, ()):
                    watch.wake()

    def _deliver(self) -> None:
        self._flush = None
        self._flushed_at = asyncio.get_running_loop().time()
        events, self._unsent = self._unsent, []
        for feed in list(self._feeds):  # (one may end: it stays subscribed until closed)
            feed.deliver(events)  # one list, shared by every feed

    def _end_all(self, cause: BaseException) -> None:
        for feed in self._feeds:
            feed.end(cause)
        for watches in self._watches.values():
            for watch in watches:
                watch.end(cause)


def _events(entries: list[StreamEntry]) -> list[Event]:
    """The entries as events; one that cannot be shown is left out (logged): it must not stop
    the reader every follower depends on."""
    events = []
    for entry in entries:
        try:
            events.append(Event.from_entry(entry))
        except (ValueError, TypeError, OverflowError) as exc:
            log.warning("events.entry_unshowable", entry_id=entry.id, error=repr(exc))
    return events
