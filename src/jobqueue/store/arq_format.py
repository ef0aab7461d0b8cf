"""arq's job and result payloads: the one place that knows their fields.

arq writes `arq:job:{id}` as `{"t", "f", "a", "k", "et"}` and `arq:result:{id}` as the same plus
`{"s", "r", "st", "ft", "q", "id"}` (`arq.jobs.serialize_job` / `serialize_result`), through our
JSON codec. Everything that reads arq's keys decodes them here, and the rule for how a job ended
(`outcome`) is written once.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

from arq.constants import default_queue_name
from arq.jobs import serialize_result

from jobqueue.history.vocabulary import EventType, StoredStatus
from jobqueue.serialization import deserialize, serialize

# Our one extra keyword in arq's payload: the id of the request that enqueued the job, so the
# worker's log lines carry it. Never part of a job's public args.
REQUEST_ID_ARG = "_request_id"
# arq stores the exception a job ended with; our codec turns it into `{"type", "message"}`.
ABORTED_ERROR_TYPE = type(asyncio.CancelledError()).__name__
EXPIRED_MESSAGE = "job expired"  # arq's JobExecutionFailed for a job whose data expired
MAX_MS = 253_402_300_799_999  # the last ms of the year 9999: the latest time a datetime holds


class MalformedPayload(ValueError):
    """Not a payload arq (with our JSON codec) wrote: unreadable, or missing a field."""


@dataclass(frozen=True)
class ArqJob:
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_try: int | None
    enqueue_ms: int

    @property
    def public_kwargs(self) -> dict[str, Any]:
        return public_kwargs(self.kwargs)


@dataclass(frozen=True)
class ArqResult:
    job_id: str
    function: str
    kwargs: dict[str, Any]
    success: bool
    value: Any  # the job's result, or the error it failed with
    tries: int
    enqueue_ms: int
    start_ms: int
    finish_ms: int
    queue: str

    @property
    def public_kwargs(self) -> dict[str, Any]:
        return public_kwargs(self.kwargs)


@dataclass(frozen=True)
class Outcome:
    """How a job ended, in the service's vocabulary."""

    status: StoredStatus
    event: EventType
    error: dict[str, str] | None


def public_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k != REQUEST_ID_ARG}


def with_request_id(kwargs: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """The job's kwargs as stored for arq: the enqueuing request's id rides along."""
    return {**kwargs, REQUEST_ID_ARG: request_id} if request_id else kwargs


def pop_request_id(kwargs: dict[str, Any]) -> str | None:
    """The enqueuing request's id, taken out of the kwargs arq gives the job."""
    request_id: str | None = kwargs.pop(REQUEST_ID_ARG, None)
    return request_id


def _ms(value: Any) -> int:
    """A time in ms: arq writes ints; a float (another writer) is read as one. (Never the value
    in the message: a planted payload may hold anything.)"""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_MS:
        raise MalformedPayload(f"not a time in ms: a {type(value).__name__}")
    return int(value)


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        return deserialize(raw)
    except ValueError as exc:
        raise MalformedPayload("not a JSON object") from exc


def _kwargs(data: dict[str, Any]) -> dict[str, Any]:
    kwargs = data.get("k")
    return kwargs if isinstance(kwargs, dict) else {}


def decode_job(raw: bytes) -> ArqJob:
    """The job as arq reads it: its function is required; odd args read as none."""
    data = _decode(raw)
    function, args, job_try = data.get("f"), data.get("a"), data.get("t")
    if not isinstance(function, str):
        raise MalformedPayload("no function name")
    return ArqJob(
        function=function,
        args=tuple(args) if isinstance(args, list | tuple) else (),
        kwargs=_kwargs(data),
        job_try=job_try if isinstance(job_try, int) else None,
        enqueue_ms=_ms(data.get("et", 0)),
    )


def decode_result(raw: bytes) -> ArqResult:
    """A result as arq wrote it. What recording its end needs is required (id, function,
    success, try, start and finish); the rest is read leniently, as arq does."""
    data = _decode(raw)
    try:
        job_id, function, success, tries = data["id"], data["f"], data["s"], data["t"]
        start_ms, finish_ms = data["st"], data["ft"]
    except KeyError as exc:
        raise MalformedPayload(f"no field {exc}") from None
    # (exact type checks: this runs for every job's end, and `type(x) is int` excludes bools)
    if type(job_id) is not str or type(function) is not str or type(success) is not bool:
        raise MalformedPayload("id, function or success of the wrong type")
    if type(tries) is not int:
        raise MalformedPayload(f"not a try count: a {type(tries).__name__}")
    if not (
        type(start_ms) is int
        and type(finish_ms) is int
        and 0 <= start_ms <= MAX_MS
        and 0 <= finish_ms <= MAX_MS
    ):
        start_ms, finish_ms = _ms(start_ms), _ms(finish_ms)
    queue = data.get("q")
    enqueue_ms = data.get("et", 0)
    try:
        enqueue_ms = _ms(enqueue_ms)
    except MalformedPayload:
        enqueue_ms = 0  # (read leniently: nothing depends on it)
    return ArqResult(
        job_id=job_id,
        function=function,
        kwargs=_kwargs(data),
        success=success,
        value=data.get("r"),
        tries=tries,
        enqueue_ms=enqueue_ms,
        start_ms=start_ms,
        finish_ms=finish_ms,
        queue=queue if isinstance(queue, str) else default_queue_name,
    )


def outcome(result: ArqResult) -> Outcome:
    """Succeeded; aborted (arq stored a CancelledError); failed, or expired (a failure arq
    records when the job's data was gone by the time a worker took it)."""
    if result.success:
        return Outcome(StoredStatus.succeeded, EventType.succeeded, None)
    error = result.value
    if not (isinstance(error, dict) and isinstance(error.get("type"), str)):
        error = {"type": "JobExecutionFailed", "message": str(error)}
    error = {"type": error["type"], "message": str(error.get("message", ""))}
    if error["type"] == ABORTED_ERROR_TYPE:
        return Outcome(StoredStatus.aborted, EventType.aborted, error)
    expired = error["message"] == EXPIRED_MESSAGE
    return Outcome(StoredStatus.failed, EventType.expired if expired else EventType.failed, error)


def aborted_result(job: ArqJob, job_id: str, queue: str, at_ms: int) -> bytes:
    """The result arq would store for `job` aborted before it ever started (no try)."""
    payload = serialize_result(
        job.function,
        job.args,
        job.kwargs,
        0,
        job.enqueue_ms,
        False,
        asyncio.CancelledError(),
        at_ms,
        at_ms,
        f"{job_id}:{job.function}",
        queue,
        job_id,
        serializer=serialize,
    )
    assert payload is not None  # (None only when the serializer fails twice)
    return payload
