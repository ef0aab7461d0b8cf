"""The peers' workers and enqueuers, one module per column of the worker table.

Each module is imported by its library's own worker CLI (`arq`, `saq`, `dramatiq`, `taskiq`)
and, run as `python -m bench.peers.<module> enqueue KIND COUNT`, pre-queues COUNT jobs of
KIND (`noop` or `sleep10`) with that library's own client. dramatiq and taskiq run from their
own virtualenvs, so this package imports nothing outside the standard library.
"""

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
KINDS = ("noop", "sleep10")
SLEEP_SECONDS = 0.01


def enqueue_args() -> tuple[str, int]:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["enqueue"])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("count", type=int)
    options = parser.parse_args()
    return options.kind, options.count


async def concurrently(count: int, make: Callable[[], Awaitable[Any]], clients: int = 50) -> None:
    """Await `count` calls of `make`, `clients` in flight at a time (a busy client, on as
    many connections: a connection's setup commands then weigh little per job)."""
    left = count

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await make()

    await asyncio.gather(*(client() for _ in range(clients)))
