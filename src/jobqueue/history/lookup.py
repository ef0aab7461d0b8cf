"""What is known about one job right now: arq's keys, enriched with (or replaced by) its record.

arq's keys are authoritative while they exist; the record adds what arq does not keep (start
time while running, progress, retry links) and answers alone once arq's keys have expired.
A payload arq could not have written shows as a `DeserializationError`, a malformed record
field or a key of the wrong type as `CorruptJobData` (`records`): the job is still shown.
"""

from datetime import datetime

from arq.connections import ArqRedis

from jobqueue.clock import ms_to_datetime, now_ms
from jobqueue.history.records import UNKNOWN_FUNCTION, enrich, has_record, view_from_record
from jobqueue.history.view import JobError, JobView, corrupt_data, is_corrupt
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store.arq_format import (
    MAX_MS,
    MalformedPayload,
    decode_job,
    decode_result,
    outcome,
)
from jobqueue.store.job_state import JobState, read_job_state


def _unreadable(what: str, problem: MalformedPayload) -> JobError:
    return JobError(type="DeserializationError", message=f"{what} is unreadable: {problem}")


async def read_job(redis: ArqRedis, queue: str, job_id: str) -> JobView | None:
    """Everything about a job in one round trip, or None if neither arq nor history knows it."""
    state = await read_job_state(redis, queue, job_id)
    if state.result is not None:
        view = enrich(finished_view(job_id, state.result), state.record)
    elif state.job is not None or state.score is not None or "job" in state.wrong_type:
        view = enrich(_waiting_or_running_view(job_id, state), state.record)
    elif has_record(state.record):
        view = view_from_record(job_id, state.record)
    elif state.wrong_type:
        view = _unknown_view(job_id, JobStatus.failed)
    else:
        return None
    return with_wrong_types(view, state.wrong_type)


def with_wrong_types(view: JobView, wrong_type: tuple[str, ...]) -> JobView:
    """The view, its error naming the job's keys that are of the wrong type (read as none; the
    shared queue's only while the job has yet to end)."""
    if view.status.is_terminal:
        wrong_type = tuple(name for name in wrong_type if name != "queue")
    if not wrong_type:
        return view
    problems = [f"its {name} key: of the wrong type" for name in wrong_type]
    if is_corrupt(view) and view.error is not None:
        problems.insert(0, view.error.message)
    view.error = corrupt_data(problems)
    return view


def _unknown_view(job_id: str, status: JobStatus) -> JobView:
    return JobView(
        job_id=job_id,
        function=UNKNOWN_FUNCTION,
        args={},
        status=status,
        tries=0,
        enqueue_time=None,
        scheduled_for=None,
        start_time=None,
        finish_time=None,
    )


def _waiting_or_running_view(job_id: str, state: JobState) -> JobView:
    if state.in_progress:
        status = JobStatus.in_progress
    elif state.score is not None and state.score > now_ms():
        status = JobStatus.deferred
    else:
        status = JobStatus.queued
    view = _unknown_view(job_id, status)
    view.tries = state.tries
    if not state.in_progress and state.score is not None:  # only while it waits
        view.scheduled_for = _due_time(state.score)
    if state.job is not None:
        try:
            job = decode_job(state.job)
        except MalformedPayload as problem:
            view.error = _unreadable("the job's data", problem)
            return view
        view.function = job.function
        view.args = job.public_kwargs
        view.enqueue_time = ms_to_datetime(job.enqueue_ms)
    return view


def finished_view(job_id: str, raw_result: bytes) -> JobView:
    """A job's view from arq's stored result."""
    try:
        result = decode_result(raw_result)
    except MalformedPayload as problem:
        view = _unknown_view(job_id, JobStatus.failed)
        view.error = _unreadable("the job's result", problem)
        return view
    ended = outcome(result)
    return JobView(
        job_id=job_id,
        function=result.function,
        args=result.public_kwargs,
        status=JobStatus(ended.status.value),
        tries=result.tries,
        enqueue_time=ms_to_datetime(result.enqueue_ms),
        scheduled_for=None,
        # A job aborted before it started has no real start time.
        start_time=ms_to_datetime(result.start_ms) if result.tries else None,
        finish_time=ms_to_datetime(result.finish_ms),
        result=result.value if result.success else None,
        error=JobError.model_validate(ended.error) if ended.error else None,
    )


def _due_time(score: float) -> datetime | None:
    """A queue score as a time (a score no datetime holds, planted, reads as none)."""
    return ms_to_datetime(int(score)) if 0 <= score <= MAX_MS else None


def finished_value(raw_result: bytes | None) -> object:
    """A succeeded job's result from arq's stored result, else None."""
    if raw_result is None:
        return None
    try:
        result = decode_result(raw_result)
    except MalformedPayload:
        return None
    return result.value if result.success else None
