"""Recording every job transition: history record, index, events and counters.

`JobTracker` builds the writes (the `transition.lua` script); `jobqueue.client` decides when
they travel: with arq's own writes wherever possible (see there).
"""

import hashlib
from importlib.resources import files
from typing import Any

import orjson
from arq.connections import ArqRedis
from arq.constants import default_queue_name
from redis.asyncio.client import Pipeline

from jobqueue import keys
from jobqueue.records import WAITING, ms_to_datetime, now_ms
from jobqueue.serialization import ABORTED_ERROR_TYPE, deserialize
from jobqueue.settings import Settings

TRANSITION = (files("jobqueue") / "lua" / "transition.lua").read_text()
# Sent by EVALSHA, also inside MULTI; `TrackedPipeline` falls back to EVAL after a NOSCRIPT.
TRANSITION_SHA = hashlib.sha1(TRANSITION.encode(), usedforsecurity=False).hexdigest()

REQUEST_ID_ARG = "_request_id"
EXPIRED_MESSAGE = "job expired"  # arq's JobExecutionFailed message for a job whose data expired
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
COUNT_TTL_SECONDS = 2 * 3600  # the finished counters' buckets cover the last hour


def iso(ms: int) -> str:
    when = ms_to_datetime(ms)
    assert when is not None
    return when.isoformat()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _started(job_try: int, at_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `started` event's data and record fields."""
    data = {"status": "in_progress", "at": iso(at_ms), "try": job_try}
    return data, {"start_ms": at_ms, "tries": job_try, "finish_ms": ""}


def public_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != REQUEST_ID_ARG}


class JobTracker:
    """Builds the transition writes; holds the retention settings they need.

    A worker notes a job's start in memory (`note_started`) and writes it together with the
    job's next write: its end (in arq's result transaction), a retry, or its first progress.
    A job still running after `START_WRITE_DELAY_S` gets its start written on its own. Short
    jobs thus cost no extra round trip for their `started` record.
    """

    def __init__(self, settings: Settings) -> None:
        self.history_ttl_ms = settings.history_ttl * 1000
        self.events_max_length = settings.events_max_length
        self._pending_starts: dict[str, tuple[int, int]] = {}  # job id -> (try, at ms)

    def add_transition(
        self,
        pipe: Pipeline,
        job_id: str,
        *,
        status: str,
        event: str,
        data: dict[str, Any],
        fields: dict[str, Any] | None = None,
        counts: dict[str, Any] | None = None,
    ) -> None:
        """Queue the transition script on `pipe`. A pending start of the job travels with it."""
        events: list[Any] = [event, orjson.dumps(data)]
        fields = fields or {}
        start = self._pending_starts.pop(job_id, None)
        if start is not None:
            started, start_fields = _started(*start)
            events = ["started", orjson.dumps(started), *events]
            fields = {**start_fields, **fields}
            status = status or "in_progress"
        pipe.execute_command(
            "EVALSHA", TRANSITION_SHA, 3,
            keys.record(job_id), keys.EVENTS, keys.job_events(job_id),
            job_id, status, self.history_ttl_ms, self.events_max_length, keys.INDEX_PREFIX,
            orjson.dumps(counts) if counts else "",
            orjson.dumps({k: _text(v) for k, v in fields.items()}) if fields else "",
            len(events) // 2, *events,
        )  # fmt: skip

    async def record(
        self,
        redis: ArqRedis,
        job_id: str,
        *,
        status: str,
        event: str,
        data: dict[str, Any],
        fields: dict[str, Any] | None = None,
    ) -> None:
        async with redis.pipeline(transaction=True) as pipe:
            self.add_transition(pipe, job_id, status=status, event=event, data=data, fields=fields)
            await pipe.execute()

    # --- starts

    def note_started(self, job_id: str, job_try: int) -> None:
        self._pending_starts[job_id] = (job_try, now_ms())

    async def write_started_if_pending(self, redis: ArqRedis, job_id: str) -> None:
        if job_id in self._pending_starts:
            async with redis.pipeline(transaction=True) as pipe:
                self._add_pending_start(pipe, job_id)
                await pipe.execute()

    async def started(self, redis: ArqRedis, job_id: str, job_try: int) -> None:
        """Record a start now."""
        self.note_started(job_id, job_try)
        await self.write_started_if_pending(redis, job_id)

    def _add_pending_start(self, pipe: Pipeline, job_id: str) -> None:
        start = self._pending_starts.pop(job_id, None)
        if start is not None:
            data, fields = _started(*start)
            self.add_transition(
                pipe, job_id, status="in_progress", event="started", data=data, fields=fields
            )

    # --- the rest of a job's life

    async def retry_scheduled(
        self, redis: ArqRedis, job_id: str, function: str, job_try: int, delay_s: float,
        error: dict[str, str],
    ) -> None:  # fmt: skip
        at = now_ms()
        due = at + int(delay_s * 1000)
        data = {
            "status": "deferred", "at": iso(at), "try": job_try, "delay_s": round(delay_s, 3),
            "scheduled_for": iso(due), "error": error,
        }  # fmt: skip
        fields = {"scheduled_ms": due, "error": orjson.dumps(error), "tries": job_try}
        async with redis.pipeline(transaction=True) as pipe:
            self.add_transition(
                pipe, job_id, status=WAITING, event="retry_scheduled", data=data, fields=fields
            )
            pipe.hincrby(keys.METRICS_PREFIX + "retried", function, 1)
            await pipe.execute()

    async def progress(
        self, redis: ArqRedis, job_id: str, current: float, total: float | None, message: str | None
    ) -> None:
        progress = {"current": current, "total": total, "message": message}
        await self.record(
            redis, job_id, status="", event="progress",
            data={"status": "in_progress", "at": iso(now_ms()), "progress": progress},
            fields={"progress": orjson.dumps(progress)},
        )  # fmt: skip

    async def expired(self, redis: ArqRedis, job_id: str) -> None:
        """A waiting job whose data expired before a worker took it (found by the sweep)."""
        at = now_ms()
        error = {"type": "JobExpired", "message": "the job was not started before it expired"}
        await self.record(
            redis, job_id, status="failed", event="expired",
            data={"status": "failed", "at": iso(at), "error": error},
            fields={"finish_ms": at, "error": orjson.dumps(error)},
        )  # fmt: skip

    def add_finished(self, pipe: Pipeline, payload: bytes) -> None:
        """Append the end of a job to `pipe`, from the result arq is writing in it."""
        try:
            result = deserialize(payload)
        except ValueError:
            return
        job_id, function, success = result["id"], result["f"], result["s"]
        error = None if success else result["r"]
        if success:
            status = event = "succeeded"
        elif isinstance(error, dict) and error.get("type") == ABORTED_ERROR_TYPE:
            status = event = "aborted"
        else:
            if not isinstance(error, dict):
                error = {"type": "JobExecutionFailed", "message": str(error)}
            status = "failed"
            event = "expired" if error["message"] == EXPIRED_MESSAGE else "failed"
        finish_ms, tries = result["ft"], result["t"]
        fields: dict[str, Any] = {"finish_ms": finish_ms, "tries": tries}
        if tries:
            fields["start_ms"] = result["st"]
        fields["error"] = orjson.dumps(error) if error is not None else ""
        data: dict[str, Any] = {"status": status, "at": iso(finish_ms), "try": tries}
        if error is not None:
            data["error"] = error
        counts: dict[str, Any] = {
            "prefix": keys.METRICS_PREFIX,
            "function": function,
            "status": status,
            "bucket_key": keys.finished_count(
                result.get("q", default_queue_name), status,
                finish_ms // (keys.COUNT_BUCKET_SECONDS * 1000),
            ),
            "bucket_ttl": COUNT_TTL_SECONDS,
        }  # fmt: skip
        if tries:
            seconds = (finish_ms - result["st"]) / 1000
            counts["seconds"] = seconds
            counts["duration_bucket"] = next(
                (str(b) for b in DURATION_BUCKETS if seconds <= b), "+Inf"
            )
        self.add_transition(
            pipe, job_id, status=status, event=event, data=data, fields=fields, counts=counts
        )
