"""A job's past and live events, and the live feed of every job's.

Stream ids double as SSE event ids, so `Last-Event-ID` resumes exactly. Live reads block on
Redis (no polling), at most `BLOCK_MS` at a time.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis

from jobqueue.clock import iso
from jobqueue.history.lookup import read_job
from jobqueue.history.vocabulary import EVENT_STATUS, TERMINAL_EVENTS, EventType, JobStatus
from jobqueue.store import streams
from jobqueue.store.streams import StreamEntry

BLOCK_MS = 1000  # must stay under the pool's socket timeout
BATCH = 100


@dataclass(frozen=True)
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


async def _past(redis: ArqRedis, job_id: str, after: str | None) -> list[Event]:
    return [Event.from_entry(e) for e in await streams.read_job_history(redis, job_id, after)]


async def follow(redis: ArqRedis, stream: str, after: str) -> AsyncIterator[Event]:
    """Live events after `after`, forever (the caller stops iterating)."""
    while True:
        for entry in await streams.read_after(redis, stream, after, block_ms=BLOCK_MS, count=BATCH):
            after = entry.id
            yield Event.from_entry(entry)


async def job_events(
    redis: ArqRedis, queue: str, job_id: str, after: str | None
) -> AsyncIterator[Event]:
    """The job's past events (after `after`), then live ones until it ends."""
    stream = streams.of_job(job_id)
    last = after or "0-0"
    for event in await _past(redis, job_id, after):
        last = event.id
        yield event
        if event.is_terminal:
            return
    view = await read_job(redis, queue, job_id)
    if view is None or view.status.is_terminal:
        for event in await _past(redis, job_id, last):  # it ended just now
            yield event
        return
    async for event in follow(redis, stream, last):
        yield event
        if event.is_terminal:
            return


async def all_events(redis: ArqRedis, after: str | None) -> AsyncIterator[Event]:
    """Every job's events as they happen, after `after` (resume) or from now."""
    start = after or await streams.latest_id(redis, streams.ALL_JOBS)
    async for event in follow(redis, streams.ALL_JOBS, start):
        yield event


async def wait_for_change(redis: ArqRedis, job_id: str, after: str, timeout_ms: int) -> None:
    """Return once the job has an event after `after`, or after `timeout_ms` (≤ `BLOCK_MS`)."""
    await streams.read_after(
        redis, streams.of_job(job_id), after, block_ms=max(1, min(BLOCK_MS, timeout_ms)), count=1
    )


async def latest_job_event_id(redis: ArqRedis, job_id: str) -> str:
    return await streams.latest_id(redis, streams.of_job(job_id))
