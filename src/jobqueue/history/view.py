"""The public shape of a job, as every client sees it."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from jobqueue.history.vocabulary import JobStatus


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


CORRUPT_DATA = "CorruptJobData"


def corrupt_data(problems: list[str]) -> JobError:
    """The error a view shows when what Redis holds for the job is malformed: which, and why."""
    return JobError(type=CORRUPT_DATA, message="; ".join(problems))


def is_corrupt(view: JobView) -> bool:
    return view.error is not None and view.error.type == CORRUPT_DATA
