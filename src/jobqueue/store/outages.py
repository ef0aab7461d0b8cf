"""Redis down or full, as the rest of the service sees it: `QueueUnavailable` (a 503).

Down: the first request that cannot reach Redis opens the process's `Circuit`; until a probe in
the background reaches Redis again, every request answers 503 at once instead of waiting for
its own connect to fail (under load those waits queued up behind each other for many seconds).

Full means out of memory (`maxmemory` with `noeviction`): Redis then refuses every write, our
scripts before they run. Reads go on working; a write is refused as a whole, never half done.
"""

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import structlog
from redis.exceptions import ConnectionError, OutOfMemoryError, TimeoutError

from jobqueue.errors import QueueUnavailable

log = structlog.get_logger("jobqueue.redis")

# OSError: a refused connect surfaces as a bare OSError inside redis-py's connect retry loop.
OUTAGE_ERRORS = (ConnectionError, TimeoutError, OSError)
FULL_ERRORS = (OutOfMemoryError,)

# redis-py's blocking pool, every connection busy for its whole timeout: load, not an outage.
POOL_EXHAUSTED = "No connection available."
PROBE_EVERY_S = 0.25


class Circuit:
    """Open once Redis could not be reached (requests then fail at once); closed again by a
    probe that keeps trying in the background."""

    def __init__(self, probe: Callable[[], Awaitable[object]]) -> None:
        self._probe = probe  # raises while Redis cannot be reached
        self._probing: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._probing is not None

    def check(self) -> None:
        if self.is_open:
            raise QueueUnavailable("Redis is unavailable: reconnecting in the background")

    def trip(self, cause: BaseException) -> None:
        if self.is_open or str(cause) == POOL_EXHAUSTED:
            return
        log.warning("redis.circuit_open", error=repr(cause))
        self._probing = asyncio.get_running_loop().create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        while True:
            try:
                await self._probe()
            except Exception:  # still down: try again shortly
                await asyncio.sleep(PROBE_EVERY_S)
            else:
                log.info("redis.circuit_closed")
                self._probing = None
                return

    async def aclose(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with suppress(asyncio.CancelledError):
                await self._probing
            self._probing = None


class Guarded(Protocol):
    """A facade over Redis, with the process's circuit."""

    @property
    def circuit(self) -> Circuit: ...


G = TypeVar("G", bound=Guarded)
P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on_outage(
    method: Callable[Concatenate[G, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[G, P], Coroutine[Any, Any, R]]:
    """A facade method that raises `QueueUnavailable` when Redis cannot be reached (at once,
    while the circuit is open) or is full."""

    @functools.wraps(method)
    async def guarded(facade: G, /, *args: P.args, **kwargs: P.kwargs) -> R:
        facade.circuit.check()
        try:
            return await method(facade, *args, **kwargs)
        except OUTAGE_ERRORS as exc:
            facade.circuit.trip(exc)
            raise QueueUnavailable(f"Redis is unavailable: {exc.__class__.__name__}") from exc
        except FULL_ERRORS as exc:
            raise QueueUnavailable(
                "Redis is out of memory (maxmemory reached); nothing was written"
            ) from exc

    return guarded


@asynccontextmanager
async def ending_streams_on_outage(circuit: Circuit) -> AsyncIterator[None]:
    """An event stream that loses Redis ends; the client resumes with `Last-Event-ID`."""
    try:
        yield
    except OUTAGE_ERRORS as exc:
        circuit.trip(exc)
        log.warning("events.stream_ended", error=repr(exc))
    except FULL_ERRORS as exc:
        log.warning("events.stream_ended", error=repr(exc))
