"""A job's past and live events, and the live feed of every job's.

Stream ids double as SSE event ids, so `Last-Event-ID` resumes exactly. Live events come from
the process's one reader (`jobqueue.history.fanout`): no follower holds a Redis connection
while it waits.
"""

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis

from jobqueue.clock import iso, now_ms
from jobqueue.history.lookup import read_job
from jobqueue.history.vocabulary import EVENT_STATUS, TERMINAL_EVENTS, EventType, JobStatus
from jobqueue.store import streams
from jobqueue.store.streams import StreamEntry

if TYPE_CHECKING:  # (they hold these events: they import this module)
    from jobqueue.history.followers import Feed, JobWatch

PAGE = 100  # entries per read of the all-jobs stream's past


@dataclass(frozen=True, eq=False)  # (hashed by identity: the API caches its encoding)
class Event:
    id: str
    type: str
    data: dict[str, Any]  # job_id, function, type, then the event's own fields

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS

    @classmethod
    def from_entry(cls, entry: StreamEntry) -> "Event":
        envelope = {"job_id": entry.job_id, "function": entry.function, "type": entry.type}
        return cls(id=entry.id, type=entry.type, data={**envelope, **public_data(entry)})


def public_data(entry: StreamEntry) -> dict[str, Any]:
    """An event's data as clients see it, from the compact form it is stored in: its status
    (implied by its type), then its fields, with times as ISO-8601 UTC. (Events stored before
    this form carry their status and ISO times already: they read the same.)"""
    data = dict(entry.data)
    for field in ("at", "scheduled_for"):
        if isinstance(data.get(field), int):
            data[field] = iso(data[field])
    status = data.pop("status", None) or _status(entry.type, data)
    return {"status": status, **data}


def _status(kind: str, data: dict[str, Any]) -> str | None:
    if kind == EventType.enqueued:
        scheduled, at = data.get("scheduled_for"), data.get("at")
        return JobStatus.deferred if scheduled and at and scheduled > at else JobStatus.queued
    try:
        return EVENT_STATUS[EventType(kind)]
    except ValueError:  # a type this version does not know
        return None


async def past_events(redis: ArqRedis, job_id: str, after: str | None = None) -> list[Event]:
    """The job's events so far (after `after`), as a follower would first be sent them."""
    return [Event.from_entry(e) for e in await streams.read_job_history(redis, job_id, after)]


def _until_terminal(events: list[Event]) -> list[Event]:
    """The events up to the job's end (nothing after it is shown)."""
    for n, event in enumerate(events):
        if event.is_terminal:
            return events[: n + 1]
    return events


async def job_events(
    redis: ArqRedis, queue: str, watch: "JobWatch", job_id: str, after: str | None
) -> AsyncGenerator[list[Event], None]:
    """The job's past events (after `after`), then live ones until it ends, a batch at a time.
    `watch` says when it has news; they are read from the job's own stream, whose ids clients
    resume with."""
    await watch.start()  # before the past is read: nothing falls between the two
    past = await past_events(redis, job_id, after)
    shown = _until_terminal(past)
    if shown:
        yield shown
    if len(shown) < len(past) or (shown and shown[-1].is_terminal):
        return
    last = shown[-1].id if shown else after
    view = await read_job(redis, queue, job_id)
    if view is None or view.status.is_terminal:
        if rest := await past_events(redis, job_id, last):  # it ended just now
            yield rest
        return
    while await watch.news():
        entries = await streams.read_range(redis, streams.of_job(job_id), last)
        if fresh := _until_terminal([Event.from_entry(entry) for entry in entries]):
            yield fresh
            if fresh[-1].is_terminal:
                return
            last = fresh[-1].id


async def all_events(
    redis: ArqRedis, feed: "Feed", after: str | None
) -> AsyncGenerator[list[Event], None]:
    """Every job's events as they happen, after `after` (resume) or from now, a batch at a
    time (the batches the fan-out hands on are shared by every follower)."""
    await feed.start()  # before the past is read: nothing falls between the two
    last = after
    while last is not None:  # the past, a page at a time
        page = [
            Event.from_entry(entry)
            for entry in await streams.read_range(redis, streams.ALL_JOBS, last, count=PAGE)
        ]
        if not page:
            break
        yield page
        last = page[-1].id
    while (events := await feed.next_events()) is not None:
        if last is not None and not streams.is_after(events[0].id, last):
            events = [e for e in events if streams.is_after(e.id, last)]  # the past brought it
        if events:
            yield events
            last = None  # (ids only grow from here: no need to compare them)


# Stream ids are Redis's clock in ms; ours may trail it by this much (another host).
FUTURE_ID_SLACK_MS = 60_000


def resume_point(last_event_id: str) -> str:
    """A client's `Last-Event-ID` as the stream id to read after (`ms-seq`, digits); raises
    ValueError if Redis would refuse it (each part is an unsigned 64-bit integer)."""
    if not streams.is_valid_id(last_event_id) or "-" not in last_event_id:
        raise ValueError(
            f"Last-Event-ID must be a stream id `ms-seq`, each part at most "
            f"{streams.MAX_ID_PART}: {last_event_id[:64]!r} is not"
        )
    ms, seq = streams.stream_id(last_event_id)
    if ms > now_ms() + FUTURE_ID_SLACK_MS:  # no event has it: following would skip every one
        raise ValueError(
            f"Last-Event-ID {ms}-{seq} is in the future (its time, {ms} ms, is ahead of this "
            "server's clock): resume with the id of an event you received"
        )
    return f"{ms}-{seq}"  # (leading zeros gone: the id compares as Redis compares it)
