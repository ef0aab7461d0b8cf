"""Redis down or full, as the rest of the service sees it: `QueueUnavailable` (a 503).

Full means out of memory (`maxmemory` with `noeviction`): Redis then refuses every write, our
scripts before they run. Reads go on working; a write is refused as a whole, never half done.
"""

import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog
from redis.exceptions import ConnectionError, OutOfMemoryError, TimeoutError

from jobqueue.errors import QueueUnavailable

log = structlog.get_logger("jobqueue.redis")

# OSError: a refused connect surfaces as a bare OSError inside redis-py's connect retry loop.
OUTAGE_ERRORS = (ConnectionError, TimeoutError, OSError)
FULL_ERRORS = (OutOfMemoryError,)

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on_outage(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """A facade method that raises `QueueUnavailable` when Redis cannot be reached."""

    @functools.wraps(method)
    async def guarded(facade: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(facade, *args, **kwargs)
        except OUTAGE_ERRORS as exc:
            raise QueueUnavailable(f"Redis is unavailable: {exc.__class__.__name__}") from exc
        except FULL_ERRORS as exc:
            raise QueueUnavailable(
                "Redis is out of memory (maxmemory reached); nothing was written"
            ) from exc

    return guarded


@asynccontextmanager
async def ending_streams_on_outage() -> AsyncIterator[None]:
    """An event stream that loses Redis ends; the client resumes with `Last-Event-ID`."""
    try:
        yield
    except (*OUTAGE_ERRORS, *FULL_ERRORS) as exc:
        log.warning("events.stream_ended", error=repr(exc))
