"""Request and response bodies of the REST API (the job view itself is `jobqueue.history.view`)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from jobqueue.api import json_limits
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import RetryableStatus

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
# Ids the service makes itself: arq names each scheduled run `cron:<job>:<slot in ms>` (and a
# manual run `cron:<job>:manual:<s>`), predictably. A client taking one first would suppress
# that run (arq skips a slot whose id exists), so clients may not choose them.
RESERVED_JOB_ID_PREFIXES = ("cron:",)

# How far ahead a job may be scheduled, and how long it may wait: ten years (a date in an example
# or a config stays valid for a while; anything longer is a schedule, not a deferral). It also
# keeps the enqueue's arithmetic in range (epoch ms, Redis expiry times, datetimes in views).
MAX_DEFERRAL_SECONDS = 10 * 365 * 86400
MIN_EXPIRES_SECONDS = 0.001  # Redis expiries are whole milliseconds: less would round to none


def _valid_unicode(text: str) -> str:
    if json_limits.has_lone_surrogate(text):
        raise PydanticCustomError(
            "string_unicode", "Input should be valid Unicode (no lone surrogates)"
        )
    return text


ValidText = Annotated[str, AfterValidator(_valid_unicode)]


def _not_reserved(job_id: str) -> str:
    for prefix in RESERVED_JOB_ID_PREFIXES:
        if job_id.lower().startswith(prefix):
            raise PydanticCustomError(
                "job_id_reserved",
                "Job ids starting with '{prefix}' are reserved for the service's scheduled runs",
                {"prefix": prefix},
            )
    return job_id


def _any_case(prefix: str) -> str:
    """`^[cC][rR][oO][nN]:` for "cron:" (JSON Schema's regexes have no case-blind flag)."""
    return "^" + "".join(
        f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in prefix
    )


# (in OpenAPI as a pattern and a `not`, so that generated clients and fuzzers keep to it)
ClientJobId = Annotated[
    str,
    Field(
        pattern=JOB_ID_PATTERN,
        json_schema_extra={
            "not": {"anyOf": [{"pattern": _any_case(p)} for p in RESERVED_JOB_ID_PREFIXES]}
        },
    ),
    AfterValidator(_not_reserved),
]


def _in_utc(moment: datetime) -> datetime:
    """`moment` in UTC; one that UTC cannot represent (`0001-01-01T00:00+14:00`) is clamped to
    the earliest or latest representable time rather than failing later with an OverflowError."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        offset = moment.utcoffset() or timedelta()
        return (datetime.min if offset > timedelta() else datetime.max).replace(tzinfo=UTC)


def _within_deferral_limit(moment: datetime) -> datetime:
    """At most `MAX_DEFERRAL_SECONDS` ahead; one in the past means "now" (the store runs it
    at once), however far back."""
    moment = _in_utc(moment)
    if moment - datetime.now(UTC) > timedelta(seconds=MAX_DEFERRAL_SECONDS):
        raise PydanticCustomError(
            "defer_until_too_far",
            "defer_until should be at most {max_seconds} seconds ahead",
            {"max_seconds": MAX_DEFERRAL_SECONDS},
        )
    return moment


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _next_month() -> str:
    """The first of next month, 09:00 in UTC+1: ahead and within `MAX_DEFERRAL_SECONDS`."""
    today = datetime.now(UTC)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year}-{month:02d}-01T09:00:00+01:00"


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
            "defer_until": _next_month(),
        },
    },
}


class EnqueueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    function: ValidText = Field(description="a registered job's name (see GET /v1/functions)")
    args: dict[str, Any] = Field(default_factory=dict, description="the job's keyword arguments")
    job_id: ClientJobId | None = Field(
        default=None,
        description="your id for the job; makes the request idempotent (not starting `cron:`)",
    )
    defer_by: float | None = Field(
        default=None,
        ge=0,
        le=MAX_DEFERRAL_SECONDS,
        description="seconds to wait before running (at most ten years)",
    )
    defer_until: Annotated[AwareDatetime, AfterValidator(_within_deferral_limit)] | None = Field(
        default=None, description="when to run (with zone; at most ten years ahead; past: now)"
    )
    expires: float | None = Field(
        default=None,
        ge=MIN_EXPIRES_SECONDS,
        le=MAX_DEFERRAL_SECONDS,
        description="seconds after which a job not yet started is dropped (at most ten years)",
    )

    @model_validator(mode="after")
    def _one_deferral(self) -> Self:
        if self.defer_by is not None and self.defer_until is not None:
            raise ValueError("give either defer_by or defer_until, not both")
        wait = self.defer_by
        if self.defer_until is not None:
            wait = (self.defer_until - datetime.now(UTC)).total_seconds()
        if self.expires is not None and wait is not None and self.expires <= wait:
            raise ValueError(  # it counts from the enqueue: the job would expire before it is due
                f"expires ({self.expires:g} s) must be longer than the deferral ({wait:g} s)"
            )
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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    status: RetryableStatus = "failed"
    function: ValidText | None = None
    since: UtcDatetime | None = Field(default=None, description="only jobs enqueued since then")
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many re-runs")


class BulkRetryResult(BaseModel):
    retried: int
    already_retried: int = Field(description="matching jobs that had been re-run before")
    job_ids: list[str] = Field(description="ids of the new jobs")


MAX_BATCH = 1000


class BatchEnqueueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

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
