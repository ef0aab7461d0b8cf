"""History records, index and events, against fakeredis (which runs our Lua)."""

import json
from typing import Any

import fakeredis
import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from redis.asyncio import ConnectionPool

from jobqueue.history.tracker import JobTracker
from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash

FIXED_MS = 1_800_000_000_000


@pytest.fixture
def plain_arq(fake_server: fakeredis.FakeServer) -> ArqRedis:
    pool = ConnectionPool(connection_class=fakeredis.FakeAsyncRedisConnection, server=fake_server)
    return ArqRedis(pool, job_serializer=serialize, job_deserializer=deserialize)


async def stream(redis: TrackedRedis, key: str) -> list[dict[str, Any]]:
    entries = await redis.xrange(key)
    return [{"type": f[b"type"].decode(), **json.loads(f[b"data"])} for _, f in entries]


async def test_enqueue_writes_exactly_the_job_arq_would(
    redis: TrackedRedis, plain_arq: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("arq.connections.timestamp_ms", lambda: FIXED_MS)
    monkeypatch.setattr("jobqueue.store.enqueue.timestamp_ms", lambda: FIXED_MS)
    for defer in ({}, {"_defer_by": 30}, {"_expires": 120}):
        await plain_arq.enqueue_job("echo", _job_id="by-arq", message="hi", **defer)  # type: ignore[arg-type]
        await redis.enqueue_job("echo", _job_id="by-us", message="hi", **defer)  # type: ignore[arg-type]
        assert await redis.get(job_key_prefix + "by-us") == await redis.get(
            job_key_prefix + "by-arq"
        )
        assert await redis.zscore("arq:queue", "by-us") == await redis.zscore("arq:queue", "by-arq")
        ttl_us = await redis.pttl(job_key_prefix + "by-us")
        ttl_arq = await redis.pttl(job_key_prefix + "by-arq")
        assert abs(ttl_us - ttl_arq) < 50
        await redis.delete(job_key_prefix + "by-us", job_key_prefix + "by-arq")
        await redis.zrem("arq:queue", "by-us", "by-arq")


async def test_enqueue_refuses_an_existing_id_like_arq(redis: TrackedRedis) -> None:
    assert await redis.enqueue_job("echo", _job_id="once", message="a") is not None
    assert await redis.enqueue_job("echo", _job_id="once", message="b") is None


async def test_enqueue_records_indexes_and_announces_the_job(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="j1", message="hi")
    record = decode_hash(await redis.hgetall(keys.record("j1")))  # type: ignore[misc]
    assert record["function"] == "echo"
    assert json.loads(record["args"]) == {"message": "hi"}
    assert record["status"] == "waiting"
    for index in (keys.index(), keys.index(status="waiting"), keys.index(function="echo")):
        assert await redis.zcard(index) == 1
    assert [e["type"] for e in await stream(redis, keys.job_events("j1"))] == ["enqueued"]
    assert [e["type"] for e in await stream(redis, keys.EVENTS)] == ["enqueued"]
    assert 0 < await redis.pttl(keys.record("j1")) <= Settings().history_ttl * 1000


async def test_transitions_move_the_job_between_status_indexes(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="j2", message="hi")
    await tracker.started(redis, "j2", 1)
    assert await redis.zcard(keys.index(status="waiting")) == 0
    assert await redis.zcard(keys.index(function="echo", status="in_progress")) == 1
    await tracker.progress(redis, "j2", 3, 10, "three")
    record = decode_hash(await redis.hgetall(keys.record("j2")))  # type: ignore[misc]
    assert json.loads(record["progress"]) == {"current": 3, "total": 10, "message": "three"}
    events = await stream(redis, keys.job_events("j2"))
    assert [e["type"] for e in events] == ["enqueued", "started", "progress"]
    assert events[1]["try"] == 1


async def test_a_result_written_in_a_pipeline_records_the_end_in_the_same_transaction(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="j3", message="hi")
    await tracker.started(redis, "j3", 1)
    result = serialize(
        {
            "t": 1,
            "f": "echo",
            "a": [],
            "k": {},
            "et": 1,
            "s": False,
            "r": {"type": "ValueError", "message": "bad"},
            "st": 2,
            "ft": 5,
            "q": "arq:queue",
            "id": "j3",
        }
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set("arq:result:j3", result)
        assert await pipe.execute() == [True]  # callers see only their own results
    record = decode_hash(await redis.hgetall(keys.record("j3")))  # type: ignore[misc]
    assert record["status"] == "failed"
    assert json.loads(record["error"]) == {"type": "ValueError", "message": "bad"}
    assert await redis.zcard(keys.index(status="in_progress")) == 0
    assert await redis.zcard(keys.index(function="echo", status="failed")) == 1
    assert (await stream(redis, keys.job_events("j3")))[-1]["type"] == "failed"
    finished = await redis.hget(keys.METRICS_PREFIX + "finished", "echo|failed")  # type: ignore[misc]
    assert finished == b"1"


async def test_arqs_job_expired_result_is_an_expired_event(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="j4", message="hi")
    result = serialize(
        {
            "t": 1,
            "f": "<unknown>",
            "a": [],
            "k": {},
            "et": 0,
            "s": False,
            "r": {"type": "JobExecutionFailed", "message": "job expired"},
            "st": 2,
            "ft": 5,
            "q": "arq:queue",
            "id": "j4",
        }
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set("arq:result:j4", result)
        await pipe.execute()
    events = await stream(redis, keys.job_events("j4"))
    assert events[-1]["type"] == "expired"
    record = decode_hash(await redis.hgetall(keys.record("j4")))  # type: ignore[misc]
    assert (record["status"], record["function"]) == ("failed", "echo")


async def test_re_enqueueing_an_id_replaces_the_old_history(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="again", message="old")
    await redis.delete(job_key_prefix + "again")  # the old job is gone from arq
    await redis.zrem("arq:queue", "again")
    await redis.enqueue_job("sleep", _job_id="again", seconds=1)
    assert await redis.zcard(keys.index()) == 1
    assert await redis.zcard(keys.index(function="echo")) == 0
    assert [e["type"] for e in await stream(redis, keys.job_events("again"))] == ["enqueued"]


async def test_a_transition_is_written_even_after_redis_lost_its_scripts(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="j5", message="hi")
    await redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    result = serialize(
        {
            "t": 1,
            "f": "echo",
            "a": [],
            "k": {},
            "et": 1,
            "s": True,
            "r": {"message": "hi"},
            "st": 2,
            "ft": 5,
            "q": "arq:queue",
            "id": "j5",
        }
    )
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set("arq:result:j5", result)
        assert await pipe.execute() == [True]
    record = decode_hash(await redis.hgetall(keys.record("j5")))  # type: ignore[misc]
    assert (record["status"], record["tries"], record["finish_ms"]) == ("succeeded", "1", "5")
    assert (await stream(redis, keys.job_events("j5")))[-1]["type"] == "succeeded"
