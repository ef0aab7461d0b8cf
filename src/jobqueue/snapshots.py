"""What is known about one job right now: arq's keys, enriched with (or replaced by) its record.

arq's keys are authoritative while they exist; the record adds what arq does not keep (start
time while running, progress, retry links) and answers alone once arq's keys have expired.
"""

from typing import Any

from arq.connections import ArqRedis
from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

from jobqueue import keys
from jobqueue.records import decode, ms_to_datetime, now_ms, view_from_record
from jobqueue.serialization import ABORTED_ERROR_TYPE, deserialize
from jobqueue.tracking import public_args
from jobqueue.views import JobError, JobStatus, JobView, Progress

UNKNOWN_FUNCTION = "<unknown>"


def _unreadable(what: str) -> JobError:
    return JobError(type="DeserializationError", message=f"{what} is not valid JSON")


async def read_job(redis: ArqRedis, queue: str, job_id: str) -> JobView | None:
    """Everything about a job in one round trip, or None if neither arq nor history knows it."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(result_key_prefix + job_id)
        pipe.get(job_key_prefix + job_id)
        pipe.zscore(queue, job_id)
        pipe.exists(in_progress_key_prefix + job_id)
        pipe.get(retry_key_prefix + job_id)
        pipe.hgetall(keys.record(job_id))
        raw_result, raw_job, score, in_progress, tries, raw_record = await pipe.execute()
    record = decode(raw_record)
    if raw_result is not None:
        view = finished_view(job_id, raw_result)
    elif raw_job is not None or score is not None:
        view = _waiting_or_running_view(job_id, raw_job, score, bool(in_progress), tries)
    elif record.get("job_id"):
        return view_from_record(record)
    else:
        return None
    return _enriched(view, record)


def _enriched(view: JobView, record: dict[str, str]) -> JobView:
    if not record.get("job_id"):
        return view
    if view.start_time is None and view.status == JobStatus.in_progress and record.get("start_ms"):
        view.start_time = ms_to_datetime(int(record["start_ms"]))
    if record.get("progress"):
        view.progress = Progress.model_validate_json(record["progress"])
    view.retry_of = record.get("retry_of") or None
    view.retried_as = record.get("retried_as") or None
    if view.function == UNKNOWN_FUNCTION and record.get("function"):  # arq lost it (expired)
        view.function = record["function"]
        view.args = decode_args(record.get("args"))
    return view


def decode_args(raw: str | None) -> dict[str, Any]:
    return deserialize(raw.encode()) if raw else {}


def _waiting_or_running_view(
    job_id: str, raw_job: bytes | None, score: float | None, in_progress: bool, tries: Any
) -> JobView:
    if in_progress:
        status = JobStatus.in_progress
    elif score is not None and score > now_ms():
        status = JobStatus.deferred
    else:
        status = JobStatus.queued
    view = JobView(
        job_id=job_id,
        function=UNKNOWN_FUNCTION,
        args={},
        status=status,
        tries=int(tries or 0),
        enqueue_time=None,
        scheduled_for=ms_to_datetime(None if score is None else int(score)),
        start_time=None,
        finish_time=None,
    )
    try:
        job = deserialize(raw_job) if raw_job is not None else None
    except ValueError:
        view.error = _unreadable("the job's data")
        return view
    if job is not None:
        view.function = job["f"]
        view.args = public_args(job["k"])
        view.enqueue_time = ms_to_datetime(job["et"])
    return view


def finished_view(job_id: str, raw_result: bytes) -> JobView:
    """A job's view from arq's stored result."""
    try:
        data = deserialize(raw_result)
    except ValueError:
        return JobView(
            job_id=job_id, function=UNKNOWN_FUNCTION, args={}, status=JobStatus.failed,
            tries=0, enqueue_time=None, scheduled_for=None, start_time=None,
            finish_time=None, error=_unreadable("the job's result"),
        )  # fmt: skip
    outcome = data["r"]
    error: JobError | None = None
    if data["s"]:
        status = JobStatus.succeeded
    else:
        error = (
            JobError.model_validate(outcome)
            if isinstance(outcome, dict)
            else JobError(type="JobExecutionFailed", message=str(outcome))
        )
        aborted = error.type == ABORTED_ERROR_TYPE
        status = JobStatus.aborted if aborted else JobStatus.failed
    return JobView(
        job_id=job_id,
        function=data["f"],
        args=public_args(data["k"]),
        status=status,
        tries=data["t"],
        enqueue_time=ms_to_datetime(data["et"]),
        scheduled_for=None,
        # A job aborted before it started has no real start time.
        start_time=ms_to_datetime(data["st"]) if data["t"] else None,
        finish_time=ms_to_datetime(data["ft"]),
        result=outcome if data["s"] else None,
        error=error,
    )
