"""Data in Redis that neither this service nor arq wrote as it is: planted, left by another
program or version, or a key of another type. Readers skip it or show it as an error, never
fail on it; each finding is one warning line naming the key and the field (never the value: it
may hold a secret).

A key of the wrong type fails the command reading it with WRONGTYPE; reads that pipeline
several keys take each reply as it comes (`replies`), so one such key spoils only its own item.
"""

from collections.abc import Sequence
from typing import Any

import structlog
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from jobqueue.store import keys

log = structlog.get_logger("jobqueue.store")


class WrongType:
    """The reply for a key of another type than the reader expected."""

    def __repr__(self) -> str:
        return "WRONG_TYPE"


WRONG_TYPE = WrongType()


def is_wrong_type(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and "WRONGTYPE" in str(error)


def warn(key: str, problem: str, *, field: str | None = None, **context: Any) -> None:
    """One line for one malformed item (`problem` says why, never what the value is)."""
    log.warning("store.malformed_data", key=key, field=field, problem=problem, **context)


def wrong_type(key: str, error: ResponseError) -> None:
    """Log `key` as a key of the wrong type, if that is what failed the command; else raise
    the error (reads that tolerate such a key catch `ResponseError` and call this)."""
    if not is_wrong_type(error):
        raise error
    warn(key, "a key of the wrong type")


def warn_record(job_id: str, field: str, problem: str) -> None:
    """A field of a job's history record is malformed."""
    warn(keys.record(job_id), problem, field=field, job_id=job_id)


async def replies(pipe: Pipeline, read_keys: Sequence[str]) -> list[Any]:
    """Execute a pipeline of reads, one per key of `read_keys` (in order): a key of the wrong
    type answers `WRONG_TYPE` (and is logged); any other error is raised, as `execute` would."""
    answers: list[Any] = await pipe.execute(raise_on_error=False)
    for i, (key, answer) in enumerate(zip(read_keys, answers, strict=True)):
        if isinstance(answer, Exception):
            if not is_wrong_type(answer):
                raise answer
            warn(key, "a key of the wrong type")
            answers[i] = WRONG_TYPE
    return answers


def text(raw: bytes) -> str:
    """Bytes as text; invalid UTF-8 is replaced, not raised (a planted value may hold any)."""
    return raw.decode(errors="replace")
