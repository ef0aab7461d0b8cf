"""`taskiq worker bench.peers.taskiq_tuned:broker --workers 1 --max-async-tasks 100
--log-level WARNING`: taskiq as taskiq-redis's README sets it up.

The stream broker (the one with acknowledgements) and the Redis result backend (results kept
3600 s, as arq and the service keep theirs); one worker process running up to 100 tasks at
once, on uvloop (taskiq's worker uses it when installed); orjson as the message serializer
(taskiq's documented `with_serializer`); WARNING, since taskiq logs one INFO line per task.
Runs from its own venv (`bench.venvs`).
"""

import asyncio
from typing import Any

import uvloop
from taskiq.serializers import ORJSONSerializer  # type: ignore[import-not-found, unused-ignore]
from taskiq_redis import (  # type: ignore[import-not-found, unused-ignore]
    RedisAsyncResultBackend,
    RedisStreamBroker,
)

from bench.peers import REDIS_URL, SLEEP_SECONDS, concurrently, enqueue_args

STREAM = "taskiq"  # the broker's default stream and consumer group
RESULT_TTL = 3600

broker = (
    RedisStreamBroker(url=REDIS_URL, queue_name=STREAM, consumer_group_name=STREAM)
    .with_result_backend(RedisAsyncResultBackend(redis_url=REDIS_URL, result_ex_time=RESULT_TTL))
    .with_serializer(ORJSONSerializer())
)


async def noop(message: str = "") -> dict[str, str]:
    return {"message": message}


async def sleep10(seconds: float = SLEEP_SECONDS) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


TASKS: dict[str, Any] = {
    "noop": broker.register_task(noop, task_name="noop"),
    "sleep10": broker.register_task(sleep10, task_name="sleep10"),
}


async def _enqueue(kind: str, count: int) -> None:
    await broker.startup()  # creates the consumer group, before the first message
    task = TASKS[kind]
    if kind == "noop":
        await concurrently(count, lambda: task.kiq(message="x"))
    else:
        await concurrently(count, lambda: task.kiq(seconds=SLEEP_SECONDS))
    await broker.shutdown()


if __name__ == "__main__":
    uvloop.run(_enqueue(*enqueue_args()))
