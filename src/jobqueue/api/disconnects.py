"""A client that hangs up frees what its request was waiting on at once.

Starlette cancels a plain handler only when its response is sent; a long-poll would wait out
its whole timeout for a client that has gone. `unless_disconnected` runs the wait beside a
watch on the ASGI `http.disconnect` message and cancels the wait when it comes first.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

T = TypeVar("T")

CLIENT_CLOSED_REQUEST = 499  # (nginx's code: logged, never seen by the client that left)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the rest of a request body nobody reads


async def unless_disconnected(request: Request, wait: Coroutine[Any, Any, T]) -> T | None:
    """What `wait` returns, or None (and `wait` cancelled) if the client hangs up first."""
    waiting = asyncio.ensure_future(wait)
    watching = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, watching):
            task.cancel()  # (nothing, once done)
        await asyncio.wait({waiting, watching})  # a cancelled wait has freed its place
    if waiting.cancelled():
        return None
    return waiting.result()  # or its error
