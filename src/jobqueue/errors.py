"""Domain errors. Each carries the HTTP status it maps to; the API maps them to JSON once."""

from typing import ClassVar


class JobQueueError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class JobNotFound(JobQueueError):
    status_code = 404


class JobConflict(JobQueueError):
    status_code = 409


class QueueUnavailable(JobQueueError):
    status_code = 503


class TooManyStreams(JobQueueError):
    """The process follows as many event streams and long-polls as it may (`max_streams`)."""

    status_code = 503


class JobRejected(JobQueueError):
    """Redis refused one job's arguments (its enqueue script checks each job before writing
    any of it); nothing of that job was written, and the jobs sent with it are unaffected."""

    status_code = 422
