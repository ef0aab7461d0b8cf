"""Writing a job's transitions after its enqueue (`transition.lua`): record, index, events, and
for a job's end its counters. What the transitions are is decided in `jobqueue.history.tracker`;
this module only knows how they are stored."""

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio.client import Pipeline

from jobqueue.history.vocabulary import TERMINAL_STORED
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.scripts import LuaScript
from jobqueue.store.statistics import COUNT_TTL_SECONDS, duration_bucket

TRANSITION = LuaScript("transition")
_TERMINAL = sorted(TERMINAL_STORED)


@dataclass(frozen=True)
class FinishCount:
    """A finished job, for the per-10-s counts (`/v1/queues`) and Prometheus."""

    function: str
    status: str
    queue: str
    finish_ms: int
    seconds: float | None  # run time, when it ran

    def as_json(self) -> bytes:
        counts: dict[str, Any] = {
            "prefix": keys.METRICS_PREFIX,
            "function": self.function,
            "status": self.status,
            "bucket_key": keys.finished_count(
                self.queue, self.status, self.finish_ms // (keys.COUNT_BUCKET_SECONDS * 1000)
            ),
            "bucket_ttl": COUNT_TTL_SECONDS,
        }
        if self.seconds is not None:
            counts["seconds"] = self.seconds
            counts["duration_bucket"] = duration_bucket(self.seconds)
        return orjson.dumps(counts)


class TransitionWriter:
    """Queues transitions on pipelines, with the retention settings they need."""

    def __init__(self, settings: Settings) -> None:
        self.history_ttl_ms = settings.history_ttl * 1000
        self.events_max_length = settings.events_max_length

    def add(
        self,
        pipe: Pipeline,
        job_id: str,
        *,
        status: str,
        events: list[tuple[str, bytes]],
        fields: dict[str, str],
        count: FinishCount | None = None,
    ) -> None:
        """`status`: the new stored status, or "" to leave it; `events`: (type, data JSON)."""
        TRANSITION.queue(
            pipe,
            [keys.record(job_id), keys.EVENTS, keys.job_events(job_id)],
            [
                job_id,
                status,
                self.history_ttl_ms,
                self.events_max_length,
                keys.INDEX_PREFIX,
                count.as_json() if count else "",
                orjson.dumps(fields) if fields else "",
                len(events),
                *(part for event in events for part in event),
                *_TERMINAL,
            ],
        )

    def add_retry_count(self, pipe: Pipeline, function: str) -> None:
        pipe.hincrby(keys.METRICS_PREFIX + "retried", function, 1)
