"""Helpers shared by the tests (test modules never import from one another).

- `eventually`: the one way a test waits for something (deadline + short polls).
- `services`: a private redis-server, our worker and API as real processes.
- `api`: the HTTP calls most integration tests make.
- `redis_data`: arq's own payloads planted as arq writes them, our streams read back.
- `sse`: a minimal Server-Sent Events reader; `webhook_target`: a local HTTP target.
"""

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

T = TypeVar("T")


class GaveUp(AssertionError):
    """`eventually` ran out of time."""


@overload
async def eventually(
    probe: Callable[[], Coroutine[Any, Any, T | None]],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "",
) -> Any:
    """Call `probe` (sync or async) until it returns something truthy, and return that; fail
    (`GaveUp`) naming `what`, with the last value or error seen, after `timeout` seconds. An
    AssertionError in `probe` fails at once."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except AssertionError:
            raise
        except Exception as exc:  # what we wait for may not be up yet
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise GaveUp(f"gave up after {timeout}s waiting for {what or probe}: {last!r}")
        await asyncio.sleep(interval)
