"""A job's history record, read back as its view.

A record is a hash (see `jobqueue.store.records`) written at enqueue and updated on every
transition (`tracker`). It outlives arq's keys, so it answers alone once they have expired.
"""

from typing import Any

import orjson

from jobqueue.clock import ms_to_datetime
from jobqueue.history.view import JobError, JobView, Progress
from jobqueue.history.vocabulary import JobStatus, StoredStatus, public_status

UNKNOWN_FUNCTION = "<unknown>"


def _int(record: dict[str, str], field: str) -> int | None:
    value = record.get(field)
    return int(value) if value else None


def _json(record: dict[str, str], field: str) -> Any:
    value = record.get(field)
    return orjson.loads(value) if value else None


def has_record(record: dict[str, str]) -> bool:
    return bool(record.get("function"))  # (every record has its job's function)


def record_status(record: dict[str, str]) -> JobStatus:
    stored = StoredStatus(record.get("status", StoredStatus.waiting))
    return public_status(stored, _int(record, "scheduled_ms"))


def view_from_record(job_id: str, record: dict[str, str], result: Any = None) -> JobView:
    """The job's view from its record alone (arq's keys may be gone); `result` if still kept."""
    status = record_status(record)
    error = _json(record, "error")
    progress = _json(record, "progress")
    return JobView(
        job_id=job_id,
        function=record.get("function", UNKNOWN_FUNCTION),
        args=_json(record, "args") or {},
        status=status,
        tries=_int(record, "tries") or 0,
        stalls=_int(record, "stalls") or 0,
        enqueue_time=ms_to_datetime(_int(record, "enqueue_ms")),
        scheduled_for=(  # only while it waits
            ms_to_datetime(_int(record, "scheduled_ms")) if status.is_waiting else None
        ),
        start_time=ms_to_datetime(_int(record, "start_ms")),
        finish_time=ms_to_datetime(_int(record, "finish_ms")),
        result=result if status == JobStatus.succeeded else None,
        error=JobError.model_validate(error) if error else None,
        progress=Progress.model_validate(progress) if progress else None,
        retry_of=record.get("retry_of") or None,
        retried_as=record.get("retried_as") or None,
    )


def enrich(view: JobView, record: dict[str, str]) -> JobView:
    """Add to a view built from arq's keys what only the record keeps."""
    if not has_record(record):
        return view
    if view.start_time is None and view.status == JobStatus.in_progress and record.get("start_ms"):
        view.start_time = ms_to_datetime(int(record["start_ms"]))
    if record.get("progress"):
        view.progress = Progress.model_validate_json(record["progress"])
    view.stalls = _int(record, "stalls") or 0
    view.retry_of = record.get("retry_of") or None
    view.retried_as = record.get("retried_as") or None
    if view.function == UNKNOWN_FUNCTION and record.get("function"):  # arq lost it (expired)
        view.function = record["function"]
        view.args = _json(record, "args") or {}
    return view
