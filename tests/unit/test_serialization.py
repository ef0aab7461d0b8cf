import asyncio
import json
import pickle
from typing import Any

import pytest
from arq.jobs import DeserializationError, deserialize_job, serialize_result

from jobqueue.serialization import deserialize, serialize


def test_job_payload_round_trips_as_json() -> None:
    data: dict[str, Any] = {"t": None, "f": "echo", "a": [], "k": {"message": "hi"}, "et": 1}
    encoded = serialize(data)
    assert json.loads(encoded) == data
    assert deserialize(encoded) == data


def test_exceptions_are_stored_as_type_and_message() -> None:
    encoded = serialize({"r": ValueError("bad input")})
    assert deserialize(encoded) == {"r": {"type": "ValueError", "message": "bad input"}}


def test_an_abort_is_stored_readably() -> None:
    decoded = deserialize(serialize({"r": asyncio.CancelledError()}))
    assert decoded["r"] == {"type": "CancelledError", "message": "the job was aborted"}


def test_a_timeout_is_stored_readably() -> None:
    decoded = deserialize(serialize({"r": TimeoutError()}))
    assert decoded["r"] == {
        "type": "TimeoutError",
        "message": "the job ran longer than its timeout",
    }


def test_arq_result_with_an_exception_keeps_the_error_not_a_placeholder() -> None:
    raw = serialize_result(
        "echo",
        (),
        {},
        1,
        0,
        False,
        TimeoutError("slow"),
        0,
        1,
        "ref",
        "q",
        "id",
        serializer=serialize,
    )
    assert raw is not None
    assert deserialize(raw)["r"] == {"type": "TimeoutError", "message": "slow"}


def test_a_pickle_payload_is_refused_not_unpickled() -> None:
    payload = pickle.dumps({"f": "echo"})
    with pytest.raises(DeserializationError):
        deserialize_job(payload, deserializer=deserialize)


def test_a_json_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        deserialize(b"[1, 2]")


def test_unknown_types_fail_loudly() -> None:
    with pytest.raises(TypeError):
        serialize({"x": object()})
