"""arq's payloads, decoded: every shape arq 0.28 writes, and the one outcome rule."""

import asyncio
from typing import Any

import orjson
import pytest
from arq.jobs import serialize_job, serialize_result
from arq.worker import JobExecutionFailed

from jobqueue.history.vocabulary import EventType, StoredStatus
from jobqueue.serialization import serialize
from jobqueue.store.arq_format import (
    REQUEST_ID_ARG,
    MalformedPayload,
    decode_job,
    decode_result,
    outcome,
)


def arq_result(value: Any, *, success: bool = False, tries: int = 1) -> bytes:
    raw = serialize_result(
        "echo", (), {"message": "hi", REQUEST_ID_ARG: "r-1"}, tries, 1_000, success, value,
        1_100, 1_200, "ref", "arq:queue", "j1", serializer=serialize,
    )  # fmt: skip
    assert raw is not None
    return raw


@pytest.mark.parametrize("job_try", [None, 3])
@pytest.mark.parametrize("args", [(), (1, "two")])
def test_a_job_reads_as_arq_wrote_it(job_try: int | None, args: tuple[Any, ...]) -> None:
    job = decode_job(serialize_job("echo", args, {"m": 1}, job_try, 1_000, serializer=serialize))
    assert (job.function, job.args, job.kwargs, job.job_try) == ("echo", args, {"m": 1}, job_try)
    assert job.enqueue_ms == 1_000


def test_the_request_id_is_not_a_public_arg() -> None:
    result = decode_result(arq_result(None, success=True))
    assert result.kwargs[REQUEST_ID_ARG] == "r-1"
    assert result.public_kwargs == {"message": "hi"}


@pytest.mark.parametrize(
    ("value", "status", "event", "error"),
    [
        ({"message": "hi"}, StoredStatus.succeeded, EventType.succeeded, None),
        (asyncio.CancelledError(), StoredStatus.aborted, EventType.aborted,
         {"type": "CancelledError", "message": "the job was aborted"}),
        (TimeoutError(), StoredStatus.failed, EventType.failed,
         {"type": "TimeoutError", "message": "the job ran longer than its timeout"}),
        (JobExecutionFailed("job expired"), StoredStatus.failed, EventType.expired,
         {"type": "JobExecutionFailed", "message": "job expired"}),
        ("unable to serialize result", StoredStatus.failed, EventType.failed,
         {"type": "JobExecutionFailed", "message": "unable to serialize result"}),
    ],
)  # fmt: skip
def test_one_rule_says_how_a_job_ended(
    value: Any, status: StoredStatus, event: EventType, error: dict[str, str] | None
) -> None:
    ended = outcome(decode_result(arq_result(value, success=error is None)))
    assert (ended.status, ended.event, ended.error) == (status, event, error)


@pytest.mark.parametrize("result", [None, [1, 2], "text", {"nested": {"a": 1}}])
def test_any_json_result_reads_back(result: Any) -> None:
    assert decode_result(arq_result(result, success=True)).value == result


def test_odd_but_runnable_fields_are_read_leniently() -> None:
    """arq runs (and records the end of) a job whose kwargs or enqueue time are odd; so do we."""
    planted = orjson.loads(arq_result(None, success=True))
    planted |= {"k": [], "et": 1_000.5, "q": None}
    result = decode_result(orjson.dumps(planted))
    assert (result.kwargs, result.enqueue_ms, result.queue) == ({}, 1_000, "arq:queue")


@pytest.mark.parametrize(
    "planted",
    [b"\x80\x04pickle", b"[1, 2]", b'{"s": true}', b'{"id": "j", "f": "echo", "s": 1, "t": 1, '
     b'"st": 1, "ft": 2}', b'{"id": "j", "f": "echo", "s": true, "t": "1", "st": 1, "ft": 2}'],
)  # fmt: skip
def test_a_result_without_what_its_end_needs_is_malformed(planted: bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_result(planted)


@pytest.mark.parametrize("planted", [b"not json", b'{"a": []}', b'{"f": 3}'])
def test_a_job_without_a_function_is_malformed(planted: bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_job(planted)


# (case, fields over a well-formed result): each reads as a MalformedPayload (never a datetime
# out of range, an OverflowError or a KeyError)
MALFORMED_RESULTS = [
    ("start-past-any-date", {"st": 1e300}),
    ("finish-past-any-date", {"ft": 253_402_300_800_000}),
    ("finish-negative", {"ft": -1}),
    ("tries-a-string", {"t": "x"}),
    ("success-a-string", {"s": "yes"}),
]


@pytest.mark.parametrize(
    "fields", [c[1] for c in MALFORMED_RESULTS], ids=[c[0] for c in MALFORMED_RESULTS]
)
def test_a_malformed_result_is_refused(fields: dict[str, Any]) -> None:
    raw = orjson.dumps({**orjson.loads(arq_result(None, success=True)), **fields})
    with pytest.raises(MalformedPayload):
        decode_result(raw)


@pytest.mark.parametrize(
    "raw",
    [b'{"s": true}', b"[1]", b"Infinity", b"\xff"],
    ids=["missing-fields", "a-list", "not-json", "not-utf8"],
)
def test_a_result_that_is_not_one_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedPayload):
        decode_result(raw)


def test_an_enqueue_time_past_any_date_reads_as_none_in_a_result() -> None:
    raw = orjson.dumps({**orjson.loads(arq_result(None, success=True)), "et": 1e300})
    assert decode_result(raw).enqueue_ms == 0


def test_a_job_enqueued_past_any_date_is_refused() -> None:
    with pytest.raises(MalformedPayload):
        decode_job(b'{"f": "echo", "et": 1e300}')
