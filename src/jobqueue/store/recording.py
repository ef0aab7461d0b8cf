"""The seam between how jobs are kept in Redis and what their life means: what the store tells
the history (`NewJob`, arq's `ArqResult`) and what it asks of it (the `Recorder`, implemented by
`jobqueue.history.tracker.JobTracker`), so that the enqueue and arq's result write carry the
history's first and last transitions in their own atomic step."""

from dataclasses import dataclass
from typing import Any, Protocol

from jobqueue.store.arq_format import ArqResult
from jobqueue.store.transitions import Transition


@dataclass(frozen=True)
class NewJob:
    """A job about to be enqueued."""

    job_id: str
    function: str
    args: dict[str, Any]  # public: without the request id
    queue: str
    enqueue_ms: int
    score: int
    retry_of: str | None
    by: str | None = None  # the API key that enqueued it (None: the system, or auth off)
    schedule: str | None = None  # the schedule that produced it


@dataclass(frozen=True)
class RecordWrite:
    """What the enqueue writes for the history: the record's fields and the first event's data."""

    fields: dict[str, str]
    event: dict[str, Any]


class Recorder(Protocol):
    def enqueue_record(self, job: NewJob) -> RecordWrite: ...

    def finished(self, result: ArqResult) -> Transition:
        """The transition to write with arq's result, in the same MULTI."""
        ...
