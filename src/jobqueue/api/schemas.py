"""Request and response bodies of the REST API (the job view itself is `jobqueue.history.view`)."""

from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import RetryableStatus

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

# Swagger UI sends the first as "Try it out"'s body: each is a valid request as it stands.
ENQUEUE_EXAMPLES: dict[str, Any] = {
    "echo": {
        "summary": "Run now",
        "value": {"function": "echo", "args": {"message": "hello"}},
    },
    "idempotent-deferred": {
        "summary": "In 30 seconds, idempotently (same job_id again: 200, the same job)",
        "value": {"function": "sleep", "args": {"seconds": 2}, "job_id": "nap-1", "defer_by": 30},
    },
    "scheduled": {
        "summary": "At a given time",
        "value": {
            "function": "webhook",
            "args": {"url": "https://example.com/hooks/order", "payload": {"order": 42}},
            "defer_until": "2040-01-01T09:00:00+01:00",
        },
    },
}


class EnqueueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: str = Field(description="a registered job's name (see GET /v1/functions)")
    args: dict[str, Any] = Field(default_factory=dict, description="the job's keyword arguments")
    job_id: str | None = Field(
        default=None,
        pattern=JOB_ID_PATTERN,
        description="your id for the job; makes the request idempotent",
    )
    defer_by: float | None = Field(default=None, ge=0, description="seconds to wait before running")
    defer_until: AwareDatetime | None = Field(default=None, description="when to run (with zone)")
    expires: float | None = Field(
        default=None, gt=0, description="seconds after which a job not yet started is dropped"
    )

    @model_validator(mode="after")
    def _one_deferral(self) -> Self:
        if self.defer_by is not None and self.defer_until is not None:
            raise ValueError("give either defer_by or defer_until, not both")
        return self


class FunctionInfo(BaseModel):
    name: str
    description: str
    args_schema: dict[str, Any]
    result_schema: dict[str, Any] | None
    max_tries: int
    timeout: float


class ErrorBody(BaseModel):
    detail: str


class HealthStatus(BaseModel):
    status: str


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class BulkRetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RetryableStatus = "failed"
    function: str | None = None
    since: AwareDatetime | None = Field(default=None, description="only jobs enqueued since then")
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many re-runs")


class BulkRetryResult(BaseModel):
    retried: int
    already_retried: int = Field(description="matching jobs that had been re-run before")
    job_ids: list[str] = Field(description="ids of the new jobs")


MAX_BATCH = 1000


class BatchEnqueueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="each item is a `POST /v1/jobs` body, validated on its own",
    )


class BatchItemResult(BaseModel):
    status_code: int = Field(
        description="what `POST /v1/jobs` would have answered: 202, 200, 409 or 422"
    )
    job: JobView | None = None
    detail: Any = Field(default=None, description="the error, as `POST /v1/jobs` would give it")


class BatchEnqueueResult(BaseModel):
    created: int
    existing: int
    failed: int
    results: list[BatchItemResult] = Field(description="one per job, in request order")
