"""`JobTracker`: the transitions of a job's life, as the history records them.

The enqueue script writes the first (`enqueue_record`); the claim script writes each start
(`jobqueue.store.claim`); arq's result write carries the last (`finished`, called by
`jobqueue.store.client.TrackedPipeline`); the worker's job wrapper reports the rest: a retry
scheduled, an interruption, progress. The sweep reports jobs that expired before any worker
took them.

Events are stored compactly (times in epoch ms, the status implied by the event's type); what
clients see is rebuilt from them (`jobqueue.history.streams.Event`).
"""

from dataclasses import replace
from typing import Any

import orjson
from arq.connections import ArqRedis

from jobqueue.clock import now_ms
from jobqueue.history.vocabulary import EventType, JobStatus, StoredStatus
from jobqueue.settings import Settings
from jobqueue.store.arq_format import ArqResult, outcome
from jobqueue.store.recording import NewJob, RecordWrite
from jobqueue.store.transitions import FinishCount, Transition, TransitionWriter

Fields = dict[str, Any]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class JobTracker:
    """The `jobqueue.store.recording.Recorder` of the service, and the worker's reports."""

    def __init__(self, settings: Settings) -> None:
        self._writer = TransitionWriter(settings)

    # --- the first and the last transition, written by the store with arq's own writes

    def enqueue_record(self, job: NewJob) -> RecordWrite:
        event: Fields = {"at": job.enqueue_ms, "scheduled_for": job.score}
        if job.retry_of:
            event["retry_of"] = job.retry_of
        fields = {  # strings: Lua would print large numbers in exponent form
            "function": job.function,
            "args": orjson.dumps(job.args).decode(),
            "enqueue_ms": str(job.enqueue_ms),
            "scheduled_ms": str(job.score),
            "tries": "0",
        }
        if job.retry_of:
            fields["retry_of"] = job.retry_of
        if job.by:
            fields["enqueued_by"] = event["by"] = job.by
        if job.schedule:
            fields["schedule"] = event["schedule"] = job.schedule
        return RecordWrite(fields, event)

    def finished(self, result: ArqResult) -> Transition:
        """The end of a job, from the result arq is writing."""
        ended = outcome(result)
        fields: Fields = {"finish_ms": result.finish_ms, "tries": result.tries}
        if result.tries:
            fields["start_ms"] = result.start_ms
        fields["error"] = orjson.dumps(ended.error) if ended.error is not None else ""
        data: Fields = {"at": result.finish_ms, "try": result.tries}
        if ended.error is not None:
            data["error"] = ended.error
        count = FinishCount(
            function=result.function,
            status=ended.status,
            queue=result.queue,
            finish_ms=result.finish_ms,
            seconds=(result.finish_ms - result.start_ms) / 1000 if result.tries else None,
        )
        return self._transition(ended.status, ended.event, data, fields, count=count)

    # --- the rest of a job's life

    async def retry_scheduled(
        self,
        redis: ArqRedis,
        job_id: str,
        function: str,
        job_try: int,
        delay_s: float,
        error: dict[str, str],
        *,
        worker: str = "",
    ) -> None:
        """A retry of the job (run by `worker`: dropped if another holds it now)."""
        at = now_ms()
        due = at + int(delay_s * 1000)
        data = {
            "at": at,
            "try": job_try,
            "delay_s": round(delay_s, 3),
            "scheduled_for": due,
            "error": error,
        }
        fields = {"scheduled_ms": due, "error": orjson.dumps(error), "tries": job_try}
        transition = self._transition(StoredStatus.waiting, EventType.retry_scheduled, data, fields)
        await self._writer.write(
            redis, job_id, replace(transition, retried_function=function, held_by=worker)
        )

    async def interrupted(
        self, redis: ArqRedis, job_id: str, job_try: int, *, worker: str = ""
    ) -> None:
        """The job was cancelled because its worker (`worker`) is stopping: it waits again,
        and its next run is this same try (a deploy burns no tries); unless another worker
        holds it now."""
        at = now_ms()
        data = {"at": at, "try": job_try}
        fields = {"tries": job_try - 1, "start_ms": "", "scheduled_ms": at}
        transition = self._transition(StoredStatus.waiting, EventType.interrupted, data, fields)
        await self._writer.write(
            redis, job_id, replace(transition, give_back_try=True, held_by=worker)
        )

    async def progress(
        self, redis: ArqRedis, job_id: str, current: float, total: float | None, message: str | None
    ) -> None:
        progress = {"current": current, "total": total, "message": message}
        data = {"at": now_ms(), "progress": progress}
        fields = {"progress": orjson.dumps(progress)}
        transition = self._transition(None, EventType.progress, data, fields)
        await self._writer.write(redis, job_id, transition)

    async def abort_requested(
        self, redis: ArqRedis, job_id: str, by: str, status: JobStatus
    ) -> None:
        """`by` (an API key's name) asked for the job's abort; its end follows as `aborted`.
        Dropped, as any write, once the job has finished (it ended first)."""
        data = {"at": now_ms(), "by": by, "status": status}
        transition = self._transition(None, EventType.abort_requested, data, {"aborted_by": by})
        await self._writer.write(redis, job_id, transition)

    async def expired(self, redis: ArqRedis, job_id: str) -> None:
        """A waiting job whose data expired before a worker took it (found by the sweep)."""
        at = now_ms()
        error = {"type": "JobExpired", "message": "the job was not started before it expired"}
        data = {"at": at, "error": error}
        fields = {"finish_ms": at, "error": orjson.dumps(error)}
        transition = self._transition(StoredStatus.failed, EventType.expired, data, fields)
        await self._writer.write(redis, job_id, transition)

    def _transition(
        self,
        status: StoredStatus | None,
        event: EventType,
        data: Fields,
        fields: Fields,
        *,
        count: FinishCount | None = None,
    ) -> Transition:
        """`event` moving the job to `status` (None: unchanged)."""
        events: list[tuple[str, bytes]] = [(event, orjson.dumps(data))]  # (StrEnums are strs)
        text = {k: _text(v) for k, v in fields.items()}
        return Transition(status or "", events, text, count)
