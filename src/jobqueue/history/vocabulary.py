"""The one vocabulary of job statuses and event types.

A record stores a `StoredStatus`; clients see a `JobStatus`. They differ in one place: `waiting`
covers both `queued` and `deferred`, which differ only by whether the scheduled time has passed
(so no write is needed when a deferred job falls due). Lua scripts never spell these: they get
them as arguments.
"""

from enum import StrEnum
from typing import Literal

from jobqueue.clock import now_ms


class StoredStatus(StrEnum):
    waiting = "waiting"
    in_progress = "in_progress"
    succeeded = "succeeded"
    failed = "failed"
    aborted = "aborted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STORED


TERMINAL_STORED = frozenset({StoredStatus.succeeded, StoredStatus.failed, StoredStatus.aborted})


class JobStatus(StrEnum):
    deferred = "deferred"
    queued = "queued"
    in_progress = "in_progress"
    succeeded = "succeeded"
    failed = "failed"
    aborted = "aborted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_waiting(self) -> bool:
        return self in (JobStatus.queued, JobStatus.deferred)


TERMINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.aborted})
RETRYABLE_STATUSES = (JobStatus.failed, JobStatus.aborted)  # the endings a client may re-run
# The same, as request bodies declare them (plain strings keep pydantic's messages plain).
RetryableStatus = Literal["failed", "aborted"]


class EventType(StrEnum):
    enqueued = "enqueued"
    started = "started"
    progress = "progress"
    abort_requested = "abort_requested"  # by whom (`by`); the status is unchanged, and in it
    retry_scheduled = "retry_scheduled"
    interrupted = "interrupted"  # its worker stopped (a deploy): back to waiting, try not counted
    succeeded = "succeeded"
    failed = "failed"
    aborted = "aborted"
    expired = "expired"  # a failure: the job was not started before its data expired

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_EVENTS


TERMINAL_EVENTS = frozenset(
    {EventType.succeeded, EventType.failed, EventType.aborted, EventType.expired}
)


# The status a client sees with each event (an enqueue's: queued or deferred, by its times).
EVENT_STATUS = {
    EventType.started: JobStatus.in_progress,
    EventType.progress: JobStatus.in_progress,
    EventType.retry_scheduled: JobStatus.deferred,
    EventType.interrupted: JobStatus.queued,
    EventType.succeeded: JobStatus.succeeded,
    EventType.failed: JobStatus.failed,
    EventType.aborted: JobStatus.aborted,
    EventType.expired: JobStatus.failed,
}


def public_status(
    stored: StoredStatus, scheduled_ms: int | None, at_ms: int | None = None
) -> JobStatus:
    """What a client sees for a stored status, at `at_ms` (now by default)."""
    if stored != StoredStatus.waiting:
        return JobStatus(stored.value)
    if scheduled_ms is not None and scheduled_ms > (at_ms or now_ms()):
        return JobStatus.deferred
    return JobStatus.queued


def stored_status(status: JobStatus) -> StoredStatus:
    if status in (JobStatus.queued, JobStatus.deferred):
        return StoredStatus.waiting
    return StoredStatus(status.value)
