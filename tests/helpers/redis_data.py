"""What tests put into Redis and read back: arq's own payloads written as arq writes them, and
the service's event streams."""

import time
from typing import Any

import orjson
from arq.connections import ArqRedis
from arq.jobs import serialize_result

from jobqueue.serialization import serialize
from jobqueue.store import keys
from jobqueue.store.claim import Claimed, claim
from jobqueue.store.client import TrackedRedis

QUEUE = "arq:queue"


async def plant_result(
    redis: ArqRedis, job_id: str, *, success: bool, result: Any, function: str = "echo"
) -> None:
    """A finished job's result, written in a MULTI as arq's `finish_job` does (so the service's
    pipeline records the transition too)."""
    now = int(time.time() * 1000)
    raw = serialize_result(
        function,
        (),
        {"message": "hi"},
        2,
        now - 50,
        success,
        result,
        now - 20,
        now,
        "ref",
        QUEUE,
        job_id,
        serializer=serialize,
    )
    assert raw is not None
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.result(job_id), raw)
        await pipe.execute()


async def start_job(
    redis: TrackedRedis, job_id: str, *, owner: str = "test-worker", lease_ms: int = 15_000
) -> Claimed:
    """Claim `job_id` as a worker does (its start recorded), even if it is deferred."""
    score = await redis.zscore(QUEUE, job_id)
    assert score is not None, f"{job_id} is not queued"
    [claimed] = await claim(
        redis,
        QUEUE,
        [job_id],
        now_ms=max(int(time.time() * 1000), int(score)),
        lease_ms=lease_ms,
        owner=owner,
        aborts=False,
        limit=1,
        events_max_length=1000,
        max_tries={},
        history_ttl_ms=60_000,
    )
    redis.forget(claimed.opening)  # (no run_job follows)
    return claimed


async def stream_events(redis: ArqRedis, key: str) -> list[dict[str, Any]]:
    """A stream's events, oldest first: each entry's type and its data."""
    entries = await redis.xrange(key)
    return [{"type": f[b"type"].decode(), **orjson.loads(f[b"data"])} for _, f in entries]
