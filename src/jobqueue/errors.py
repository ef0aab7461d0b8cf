"""Domain errors. Each carries the HTTP status it maps to; the API maps them to JSON once."""

import math
from typing import ClassVar


class JobQueueError(Exception):
    status_code: ClassVar[int] = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the status needs (e.g. `Retry-After`)."""
        return {}


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


class Unauthenticated(JobQueueError):
    """No API key, or one that is not in the keys file (RFC 6750's `invalid_token`)."""

    status_code = 401

    def __init__(self, detail: str, *, token_given: bool) -> None:
        super().__init__(detail)
        self.token_given = token_given

    @property
    def headers(self) -> dict[str, str]:
        challenge = 'Bearer error="invalid_token"' if self.token_given else "Bearer"
        return {"WWW-Authenticate": challenge}


class Forbidden(JobQueueError):
    """A valid key without the scope the route needs."""

    status_code = 403


class RateLimited(JobQueueError):
    """The key has used its enqueue rate; `retry_after` is when enough has refilled."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}
