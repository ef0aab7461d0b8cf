"""`saq bench.peers.saq_tuned.settings`: SAQ tuned as its docs show.

`concurrency` 100 (SAQ's documented knob; 10 by default); orjson as the queue's `dump`/`load`;
uvloop, as the service and tuned arq have. SAQ's CLI logs at WARNING unless asked, so no
per-job lines. SAQ keeps each finished job (with its result) for 600 s by default.
"""

import asyncio
from typing import Any

import uvloop
from saq import Queue

from bench.peers import REDIS_URL, SLEEP_SECONDS, concurrently, enqueue_args
from bench.peers.codec import dumps, loads

uvloop.install()  # SAQ's `start` makes its loop with asyncio.new_event_loop(), after this


async def noop(ctx: dict[str, Any], *, message: str = "") -> dict[str, str]:
    return {"message": message}


async def sleep10(ctx: dict[str, Any], *, seconds: float = SLEEP_SECONDS) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def _queue() -> Queue:
    return Queue.from_url(REDIS_URL, dump=dumps, load=loads)


settings = {"queue": _queue(), "functions": [noop, sleep10], "concurrency": 100}


async def _enqueue(kind: str, count: int) -> None:
    queue = _queue()
    if kind == "noop":
        await concurrently(count, lambda: queue.enqueue("noop", message="x"))
    else:
        await concurrently(count, lambda: queue.enqueue("sleep10", seconds=SLEEP_SECONDS))
    await queue.disconnect()


if __name__ == "__main__":
    uvloop.run(_enqueue(*enqueue_args()))
