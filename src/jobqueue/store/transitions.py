"""Writing a job's transitions after its enqueue (`transition.lua`): record, index, events, and
for a job's end its counters. What the transitions are is decided in `jobqueue.history.tracker`;
this module only knows how they are stored."""

from dataclasses import dataclass, field
from typing import Any

import orjson
from arq.connections import ArqRedis
from redis.asyncio.client import Pipeline

from jobqueue.history.vocabulary import TERMINAL_STORED, EventType
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.scripts import LuaScript
from jobqueue.store.statistics import COUNT_TTL_SECONDS, duration_bucket

TRANSITION = LuaScript("transition")
_TERMINAL = sorted(TERMINAL_STORED)
# A finished job's own stream lives this much longer (live followers read its end from it);
# its events are then read from its record.
FINISHED_STREAM_TTL_MS = 60_000


@dataclass(frozen=True)
class FinishCount:
    """A finished job, for the per-10-s counts (`/v1/queues`) and Prometheus."""

    function: str
    status: str
    queue: str
    finish_ms: int
    seconds: float | None  # run time, when it ran

    def as_json(self, tenant: str | None) -> bytes:
        """The counts for `transition.lua`; a `tenant`'s job is counted for its tenant too."""
        bucket = self.finish_ms // (keys.COUNT_BUCKET_SECONDS * 1000)
        counts: dict[str, Any] = {
            "finished_key": keys.METRICS_FINISHED,
            "label": f"{self.function}|{self.status}",
            "bucket_key": keys.finished_count(self.queue, self.status, bucket),
            "bucket_ttl": COUNT_TTL_SECONDS,
        }
        if tenant is not None:
            counts["tenant_bucket_key"] = keys.finished_count(
                self.queue, self.status, bucket, tenant
            )
        if self.seconds is not None:
            counts |= {
                "duration_key": keys.metrics_duration(self.function),
                "durations_key": keys.METRICS_DURATION_FUNCTIONS,
                "function": self.function,
                "seconds": self.seconds,
                "duration_bucket": duration_bucket(self.seconds),
            }
        return orjson.dumps(counts)


@dataclass(frozen=True)
class Transition:
    """One step of a job's life: its new stored status ("" to leave it), its events (type and
    data JSON, in order), the record fields it sets, and for a job's end, its count. If it is
    applied: a retry of `retried_function` is counted, or with `give_back_try` the try is given
    back (arq's try counter down one, so the job's next run is this try). `held_by`: the worker
    running the job; its write is dropped if another worker holds the job's lease."""

    status: str
    events: list[tuple[str, bytes]]
    fields: dict[str, str] = field(default_factory=dict)
    count: FinishCount | None = None
    retried_function: str | None = None
    give_back_try: bool = False
    held_by: str = ""


class TransitionWriter:
    """Writes transitions, with the retention settings they need."""

    def __init__(self, settings: Settings) -> None:
        self.history_ttl_ms = settings.history_ttl * 1000
        self.events_max_length = settings.events_max_length
        self.queue_name = settings.queue_name

    def add(self, pipe: Pipeline, job_id: str, transition: Transition) -> None:
        """Queue `transition` on `pipe` (also inside a MULTI, beside arq's own writes)."""
        counts = b""
        tenant = keys.tenant_of(job_id)
        if transition.count:
            counts = transition.count.as_json(tenant)
        elif transition.retried_function is not None:
            retried = {"retried_key": keys.METRICS_RETRIED, "function": transition.retried_function}
            counts = orjson.dumps(retried)
        fields = orjson.dumps(transition.fields) if transition.fields else ""
        events = [part for event in transition.events for part in event]
        TRANSITION.queue(
            pipe,
            [
                keys.record(job_id),
                keys.EVENTS,
                keys.job_events(job_id),
                keys.retry(job_id),
                keys.in_progress(job_id),
                keys.tenant_queue(self.queue_name, tenant) if tenant is not None else keys.EVENTS,
            ],
            [
                job_id,
                transition.status,
                self.history_ttl_ms,
                self.events_max_length,
                keys.INDEX_PREFIX,
                counts,
                fields,
                FINISHED_STREAM_TTL_MS,
                len(transition.events),
                EventType.progress,
                "1" if transition.give_back_try else "",
                transition.held_by,
                "1" if tenant is not None else "",
                *events,
                *_TERMINAL,
            ],
        )

    async def write(self, redis: ArqRedis, job_id: str, transition: Transition) -> None:
        """Write `transition` in its own MULTI."""
        async with redis.pipeline(transaction=True) as pipe:
            self.add(pipe, job_id, transition)
            await pipe.execute()
