"""The public shape of a job, as every client sees it."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from jobqueue.access.secrets import masked
from jobqueue.history.vocabulary import JobStatus

# In a list page, an args, result or error over this much JSON is elided (see `history.pages`)
LISTED_VALUE_MAX_BYTES = 16 * 1024


class JobError(BaseModel):
    type: str = Field(examples=["WebhookRejected"])
    message: str = Field(examples=["example.com answered 404"])


class Progress(BaseModel):
    current: float
    total: float | None = None
    message: str | None = None


class JobView(BaseModel):
    job_id: str
    function: str
    # As stored, secrets sealed (a re-run copies them); every dump of the view, and so every
    # response, shows each secret as `**********` (`_masked_args`).
    args: dict[str, Any]
    status: JobStatus
    tries: int = Field(description="tries started so far (0 until a worker picks the job up)")
    stalls: int = Field(
        default=0,
        description="runs that never ended because their worker died or lost the job's lease "
        "(not counted as tries; past JOBQUEUE_WORKER_STALL_LIMIT the job fails with JobStalled)",
    )
    enqueue_time: datetime | None
    scheduled_for: datetime | None = Field(description="when the job is due, while it is queued")
    start_time: datetime | None
    finish_time: datetime | None
    result: Any = None
    error: JobError | None = None
    progress: Progress | None = Field(default=None, description="last progress the job reported")
    retry_of: str | None = Field(default=None, description="the job this one re-runs")
    retried_as: str | None = Field(default=None, description="the job that re-runs this one")
    retried_by: str | None = Field(
        default=None, description="the name of the API key that retried it (see `retried_as`)"
    )
    enqueued_by: str | None = Field(
        default=None,
        description="the name of the API key that enqueued it (for a re-run: that retried "
        "it); null for the service's own jobs and with auth off",
    )
    aborted_by: str | None = Field(
        default=None, description="the name of the API key that asked for its abort"
    )
    schedule: str | None = Field(
        default=None,
        description="the schedule that produced it (its name in GET /v1/cron), if one did",
    )
    elided: list[Literal["args", "result", "error"]] | None = Field(
        default=None,
        description="in a list page only: the fields too large to list (over "
        f"{LISTED_VALUE_MAX_BYTES} bytes of JSON), "
        'each replaced by {"elided": true, "bytes": N, "href": "/v1/jobs/{job_id}"} (an '
        "error keeps its type and the start of its message); GET the job for them whole",
    )

    @field_serializer("args")
    def _masked_args(self, args: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = masked(args)
        return shown


CORRUPT_DATA = "CorruptJobData"


def corrupt_data(problems: list[str]) -> JobError:
    """The error a view shows when what Redis holds for the job is malformed: which, and why."""
    return JobError(type=CORRUPT_DATA, message="; ".join(problems))


def is_corrupt(view: JobView) -> bool:
    return view.error is not None and view.error.type == CORRUPT_DATA
