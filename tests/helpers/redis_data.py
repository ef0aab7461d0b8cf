"""What tests put into Redis and read back: arq's own payloads written as arq writes them, the
service's event streams, and malformed data planted where the service reads."""

import contextlib
import time
from typing import Any

import orjson
import redis
from arq.connections import ArqRedis
from arq.jobs import serialize_result

from jobqueue.history.vocabulary import StoredStatus
from jobqueue.serialization import serialize
from jobqueue.store import keys
from jobqueue.store.claim import Claimed, claim
from jobqueue.store.client import TrackedRedis

QUEUE = "arq:queue"


async def plant_result(
    redis: ArqRedis,
    job_id: str,
    *,
    success: bool,
    result: Any,
    function: str = "echo",
    kwargs: dict[str, Any] | None = None,
) -> None:
    """A finished job's result, written in a MULTI as arq's `finish_job` does (so the service's
    pipeline records the transition too); `kwargs` as the job was stored (default an echo's)."""
    now = int(time.time() * 1000)
    raw = serialize_result(
        function,
        (),
        {"message": "hi"} if kwargs is None else kwargs,
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


# --- Malformed data, planted as another program (or an attacker with Redis access) would ---

FIELDS_OF_A_FINISHED_JOB = {
    "function": "echo",
    "args": '{"message": "hi"}',
    "status": "succeeded",
    "tries": "1",
    "stalls": "0",
    "start_ms": "",
    "finish_ms": "",
    "scheduled_ms": "",
}


def plant_record(
    client: redis.Redis, job_id: str, *, status: str = "succeeded", **fields: str
) -> dict[str, str]:
    """A finished job's history record (as the scripts write one, but for `fields`) and its
    index entries under `status`, with no arq keys: it answers alone, as after arq's expired."""
    now = int(time.time() * 1000)
    record = {
        **FIELDS_OF_A_FINISHED_JOB,
        "status": status,
        "enqueue_ms": str(now - 100),
        "start_ms": str(now - 50),
        "finish_ms": str(now),
        "scheduled_ms": str(now - 100),
        **fields,
    }
    member = keys.index_member(now - 100, job_id)
    indexed = status if status in {s.value for s in StoredStatus} else StoredStatus.failed.value
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(keys.record(job_id), mapping=record)
        pipe.zadd(keys.index(status=indexed), {member: 0})
        pipe.zadd(keys.index(status=indexed, function=record["function"]), {member: 0})
        pipe.sadd(keys.INDEXED_FUNCTIONS, record["function"])
        pipe.execute()
    return record


def plant_wrong_type(client: redis.Redis, key: str, kind: str) -> str:
    """Replace `key` with a key of type `kind` ("string", "hash", "list", "set", "zset")."""
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        if kind == "string":
            pipe.set(key, "planted")
        elif kind == "hash":
            pipe.hset(key, "planted", "1")
        elif kind == "list":
            pipe.rpush(key, "planted")
        elif kind == "set":
            pipe.sadd(key, "planted")
        elif kind == "zset":
            pipe.zadd(key, {"planted": 1})
        else:
            raise ValueError(kind)
        pipe.execute()
    return key


def plant_stream_entry(client: redis.Redis, key: str, fields: dict[str, str]) -> str:
    """An entry as given (the scripts always write type, job_id, function and data)."""
    entry_id: bytes = client.xadd(key, fields)  # type: ignore[arg-type,assignment]
    return entry_id.decode()


async def redis_contents(client: ArqRedis) -> bytes:
    """Every key of the Redis and everything it holds (SCAN, then by type: GET, HGETALL,
    LRANGE, SMEMBERS, ZRANGE, XRANGE; and DUMP where the server has it), as one text to search."""
    parts: list[bytes] = []
    async for key in client.scan_iter(count=1000):
        kind = (await client.type(key)).decode()
        parts.append(b"key " + key + b" " + kind.encode())
        if kind == "string":
            parts.append(await client.get(key) or b"")
        elif kind == "hash":
            parts.extend(b"%s=%s" % item for item in (await client.hgetall(key)).items())  # type: ignore[misc]
        elif kind == "list":
            parts.extend(await client.lrange(key, 0, -1))  # type: ignore[misc]
        elif kind == "set":
            parts.extend(await client.smembers(key))  # type: ignore[misc]
        elif kind == "zset":
            parts.extend(member for member, _ in await client.zrange(key, 0, -1, withscores=True))
        elif kind == "stream":
            for entry_id, fields in await client.xrange(key):
                parts.append(entry_id)
                parts.extend(b"%s=%s" % item for item in fields.items())
        with contextlib.suppress(redis.ResponseError):  # (fakeredis has no DUMP)
            parts.append(await client.dump(key) or b"")
    return b"\n".join(parts)
