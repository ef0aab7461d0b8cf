"""Worker heartbeats: one hash per worker (`jobqueue:worker:{id}`) and a sorted set of workers by
last beat (`jobqueue:workers`), trimmed to the retention."""

from collections.abc import Mapping

from arq.connections import ArqRedis

from jobqueue.store import keys
from jobqueue.store.records import decode_hash


async def write_heartbeat(
    redis: ArqRedis,
    worker_id: str,
    fields: Mapping[str, str | int | float],
    *,
    at: float,
    retention_s: int,
    key_ttl_s: int,
) -> None:
    key = keys.worker(worker_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=dict(fields))
        pipe.expire(key, key_ttl_s)
        pipe.zadd(keys.WORKERS, {worker_id: at})
        pipe.zremrangebyscore(keys.WORKERS, "-inf", at - retention_s)
        await pipe.execute()


async def read_heartbeats(redis: ArqRedis, *, seen_since: float) -> list[dict[str, str]]:
    """The last beat of each worker seen since `seen_since` (epoch s), most recent first."""
    ids: list[bytes] = await redis.zrevrangebyscore(keys.WORKERS, "+inf", seen_since)
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in ids:
            pipe.hgetall(keys.worker(worker_id.decode()))
        replies = await pipe.execute()
    return [decode_hash(raw) for raw in replies]
