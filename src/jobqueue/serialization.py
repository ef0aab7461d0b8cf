"""The one JSON codec for job and result payloads, shared by the API pool and the worker.

arq defaults to pickling; we never do. Exceptions are stored as `{"type", "message"}` so failures,
timeouts and aborts stay readable without a traceback in Redis. Anything that is not a JSON object
(planted pickled bytes, say) fails to decode, and arq then fails that job instead of running it.
"""

import asyncio
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel


def error_dict(exc: BaseException) -> dict[str, str]:
    """The stored, public shape of an exception."""
    message = str(exc)
    if not message and isinstance(exc, asyncio.CancelledError):
        message = "the job was aborted"
    elif not message and isinstance(exc, TimeoutError):  # what arq stores on a job's timeout
        message = "the job ran longer than its timeout"
    return {"type": type(exc).__name__, "message": message}


def _encode(value: Any) -> Any:
    if isinstance(value, BaseException):
        return error_dict(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, default=_encode)


def deserialize(payload: bytes) -> dict[str, Any]:
    data = orjson.loads(payload)  # raises orjson.JSONDecodeError, a ValueError
    if not isinstance(data, dict):
        raise ValueError("payload is not a JSON object")
    return data
