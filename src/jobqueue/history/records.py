"""A job's history record, read back as its view.

A record is a hash (see `jobqueue.store.records`) written at enqueue and updated on every
transition (`tracker`). It outlives arq's keys, so it answers alone once they have expired.

A field that is not as the scripts write it (planted, or left by another version) is read as
absent, logged (the key and the field, never the value), and named in the view's error
(`CorruptJobData`); a status this version does not know reads as `failed`. The view is still
whole: one bad field never fails a read.
"""

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from jobqueue.clock import ms_to_datetime
from jobqueue.history.view import JobError, JobView, Progress, corrupt_data
from jobqueue.history.vocabulary import JobStatus, StoredStatus, public_status
from jobqueue.store.arq_format import MAX_MS
from jobqueue.store.malformed import warn_record

UNKNOWN_FUNCTION = "<unknown>"
M = TypeVar("M", bound=BaseModel)


class RecordFields:
    """A record's fields, decoded one by one; what is malformed is noted in `problems`."""

    def __init__(self, job_id: str, record: dict[str, str]) -> None:
        self.job_id, self.record = job_id, record
        self.problems: list[str] = []

    def _malformed(self, field: str, why: str) -> None:
        warn_record(self.job_id, field, why)
        self.problems.append(f"record field {field!r}: {why}")

    def int(self, field: str, *, ms: bool = False) -> int | None:
        value = self.record.get(field)
        if not value:
            return None
        if not value.isascii() or not value.lstrip("-").isdigit():
            self._malformed(field, "not an integer")
            return None
        number = int(value)
        if ms and not 0 <= number <= MAX_MS:
            self._malformed(field, "not a time in ms")
            return None
        return number

    def json(self, field: str) -> Any:
        value = self.record.get(field)
        if not value:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            self._malformed(field, "not JSON")
            return None

    def object(self, field: str) -> dict[str, Any] | None:
        value = self.json(field)
        if value is not None and not isinstance(value, dict):
            self._malformed(field, "not a JSON object")
            return None
        return value

    def model(self, field: str, model: type[M]) -> M | None:
        value = self.object(field)
        if value is None:
            return None
        try:
            return model.model_validate(value)
        except ValidationError:
            self._malformed(field, f"not a {model.__name__}")
            return None

    def status(self) -> StoredStatus:
        value = self.record.get("status", StoredStatus.waiting)
        try:
            return StoredStatus(value)
        except ValueError:
            self._malformed("status", "not a known status")
            return StoredStatus.failed


def has_record(record: dict[str, str]) -> bool:
    return bool(record.get("function"))  # (every record has its job's function)


def record_status(fields: RecordFields) -> JobStatus:
    return public_status(fields.status(), fields.int("scheduled_ms", ms=True))


def view_from_record(job_id: str, record: dict[str, str], result: Any = None) -> JobView:
    """The job's view from its record alone (arq's keys may be gone); `result` if still kept."""
    fields = RecordFields(job_id, record)
    status = record_status(fields)
    view = JobView(
        job_id=job_id,
        function=record.get("function", UNKNOWN_FUNCTION),
        args=fields.object("args") or {},
        status=status,
        tries=fields.int("tries") or 0,
        stalls=fields.int("stalls") or 0,
        enqueue_time=ms_to_datetime(fields.int("enqueue_ms", ms=True)),
        scheduled_for=(  # only while it waits
            ms_to_datetime(fields.int("scheduled_ms", ms=True)) if status.is_waiting else None
        ),
        start_time=ms_to_datetime(fields.int("start_ms", ms=True)),
        finish_time=ms_to_datetime(fields.int("finish_ms", ms=True)),
        result=result if status == JobStatus.succeeded else None,
        error=fields.model("error", JobError),
        progress=fields.model("progress", Progress),
        retry_of=record.get("retry_of") or None,
        retried_as=record.get("retried_as") or None,
        retried_by=record.get("retried_by") or None,
        enqueued_by=record.get("enqueued_by") or None,
        aborted_by=record.get("aborted_by") or None,
        schedule=record.get("schedule") or None,
    )
    return _noting_problems(view, fields)


def enrich(view: JobView, record: dict[str, str]) -> JobView:
    """Add to a view built from arq's keys what only the record keeps."""
    if not has_record(record):
        return view
    fields = RecordFields(view.job_id, record)
    start_ms = fields.int("start_ms", ms=True)
    if view.start_time is None and view.status == JobStatus.in_progress and start_ms:
        view.start_time = ms_to_datetime(start_ms)
    view.progress = fields.model("progress", Progress) or view.progress
    view.stalls = fields.int("stalls") or 0
    view.retry_of = record.get("retry_of") or None
    view.retried_as = record.get("retried_as") or None
    view.retried_by = record.get("retried_by") or None
    view.enqueued_by = record.get("enqueued_by") or None
    view.aborted_by = record.get("aborted_by") or None
    view.schedule = record.get("schedule") or None
    if view.function == UNKNOWN_FUNCTION and record.get("function"):  # arq lost it (expired)
        view.function = record["function"]
        view.args = fields.object("args") or {}
    return _noting_problems(view, fields)


def _noting_problems(view: JobView, fields: RecordFields) -> JobView:
    if fields.problems:
        view.error = corrupt_data(fields.problems)
    return view
