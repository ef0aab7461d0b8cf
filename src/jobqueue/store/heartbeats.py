"""Worker heartbeats: one hash per worker (`jobqueue:worker:{id}`) and a sorted set of workers by
last beat (`jobqueue:workers`), trimmed to the retention. Readers get the hashes that are hashes
(a key of another type is logged and left out); what their fields hold is `jobqueue.ops`'s
business, which reports a malformed one with `warn_malformed`."""

from collections.abc import Mapping

from arq.connections import ArqRedis
from redis.exceptions import ResponseError

from jobqueue.store import keys, malformed
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


async def read_heartbeats(
    redis: ArqRedis, *, seen_since: float
) -> list[tuple[str, dict[str, str]]]:
    """The last beat of each worker seen since `seen_since` (epoch s), most recent first: its
    id and its fields ({} when it expired between the two reads)."""
    try:
        ids: list[bytes] = await redis.zrevrangebyscore(keys.WORKERS, "+inf", seen_since)
    except ResponseError as error:
        malformed.wrong_type(keys.WORKERS, error)
        return []
    worker_ids = [malformed.text(worker_id) for worker_id in ids]
    worker_keys = [keys.worker(worker_id) for worker_id in worker_ids]
    async with redis.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.hgetall(key)
        replies = await malformed.replies(pipe, worker_keys)
    return [
        (worker_id, decode_hash(raw))
        for worker_id, raw in zip(worker_ids, replies, strict=True)
        if isinstance(raw, dict)
    ]


def warn_malformed(worker_id: str, field: str) -> None:
    """A worker's heartbeat has a field no worker writes so (it is left out of what is shown)."""
    malformed.warn(keys.worker(worker_id), "not as a worker writes it", field=field)
