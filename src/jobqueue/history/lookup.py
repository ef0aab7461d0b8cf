"""What is known about one job right now: arq's keys, enriched with (or replaced by) its record.

arq's keys are authoritative while they exist; the record adds what arq does not keep (start
time while running, progress, retry links) and answers alone once arq's keys have expired.
"""

from arq.connections import ArqRedis

from jobqueue.clock import ms_to_datetime, now_ms
from jobqueue.history.records import UNKNOWN_FUNCTION, enrich, has_record, view_from_record
from jobqueue.history.view import JobError, JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store.arq_format import MalformedPayload, decode_job, decode_result, outcome
from jobqueue.store.job_state import JobState, read_job_state


def _unreadable(what: str, problem: MalformedPayload) -> JobError:
    return JobError(type="DeserializationError", message=f"{what} is unreadable: {problem}")


async def read_job(redis: ArqRedis, queue: str, job_id: str) -> JobView | None:
    """Everything about a job in one round trip, or None if neither arq nor history knows it."""
    state = await read_job_state(redis, queue, job_id)
    if state.result is not None:
        view = finished_view(job_id, state.result)
    elif state.job is not None or state.score is not None:
        view = _waiting_or_running_view(job_id, state)
    elif has_record(state.record):
        return view_from_record(job_id, state.record)
    else:
        return None
    return enrich(view, state.record)


def _waiting_or_running_view(job_id: str, state: JobState) -> JobView:
    if state.in_progress:
        status = JobStatus.in_progress
    elif state.score is not None and state.score > now_ms():
        status = JobStatus.deferred
    else:
        status = JobStatus.queued
    view = JobView(
        job_id=job_id,
        function=UNKNOWN_FUNCTION,
        args={},
        status=status,
        tries=state.tries,
        enqueue_time=None,
        scheduled_for=(  # only while it waits
            None if state.in_progress or state.score is None else ms_to_datetime(int(state.score))
        ),
        start_time=None,
        finish_time=None,
    )
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
        return JobView(
            job_id=job_id,
            function=UNKNOWN_FUNCTION,
            args={},
            status=JobStatus.failed,
            tries=0,
            enqueue_time=None,
            scheduled_for=None,
            start_time=None,
            finish_time=None,
            error=_unreadable("the job's result", problem),
        )
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


def finished_value(raw_result: bytes | None) -> object:
    """A succeeded job's result from arq's stored result, else None."""
    if raw_result is None:
        return None
    try:
        result = decode_result(raw_result)
    except MalformedPayload:
        return None
    return result.value if result.success else None
