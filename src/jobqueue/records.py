"""Job records: the service's own history of a job, outliving arq's keys.

A record is a Redis hash written at enqueue and updated on every transition (see `tracking`).
Its stored status is one of `STORED_STATUSES`; `waiting` covers both `queued` and `deferred`,
which differ only by whether the scheduled time has passed.
"""

import json
import time
from datetime import UTC, datetime
from typing import Any

from jobqueue.views import JobError, JobStatus, JobView, Progress

WAITING = "waiting"


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def public_status(stored: str, scheduled_ms: int | None, at_ms: int | None = None) -> JobStatus:
    if stored != WAITING:
        return JobStatus(stored)
    if scheduled_ms is not None and scheduled_ms > (at_ms or now_ms()):
        return JobStatus.deferred
    return JobStatus.queued


def stored_status(status: JobStatus) -> str:
    return WAITING if status in (JobStatus.queued, JobStatus.deferred) else status.value


def decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def _int(record: dict[str, str], field: str) -> int | None:
    value = record.get(field)
    return int(value) if value else None


def _json(record: dict[str, str], field: str) -> Any:
    value = record.get(field)
    return json.loads(value) if value else None


def view_from_record(record: dict[str, str], result: Any = None) -> JobView:
    """The job's view from its record alone (arq's keys may be gone); `result` if still kept."""
    status = public_status(record.get("status", WAITING), _int(record, "scheduled_ms"))
    error = _json(record, "error")
    progress = _json(record, "progress")
    return JobView(
        job_id=record["job_id"],
        function=record.get("function", "<unknown>"),
        args=_json(record, "args") or {},
        status=status,
        tries=_int(record, "tries") or 0,
        enqueue_time=ms_to_datetime(_int(record, "enqueue_ms")),
        scheduled_for=(
            ms_to_datetime(_int(record, "scheduled_ms")) if not status.is_terminal else None
        ),
        start_time=ms_to_datetime(_int(record, "start_ms")),
        finish_time=ms_to_datetime(_int(record, "finish_ms")),
        result=result if status == JobStatus.succeeded else None,
        error=JobError.model_validate(error) if error else None,
        progress=Progress.model_validate(progress) if progress else None,
        retry_of=record.get("retry_of") or None,
        retried_as=record.get("retried_as") or None,
    )
