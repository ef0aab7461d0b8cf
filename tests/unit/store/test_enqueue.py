"""Enqueueing: arq's own payload and rule, with the history, in one script call, micro-batched."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from redis.asyncio import ConnectionPool
from redis.asyncio.client import Pipeline

from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store import enqueue as enqueue_module
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.enqueue import EnqueueSpec
from jobqueue.store.records import decode_hash
from tests.helpers.redis_data import stream_events

FIXED_MS = 1_800_000_000_000


@pytest.fixture
def plain_arq(fake_server: fakeredis.FakeServer) -> ArqRedis:
    pool = ConnectionPool(connection_class=fakeredis.FakeAsyncRedisConnection, server=fake_server)
    return ArqRedis(pool, job_serializer=serialize, job_deserializer=deserialize)


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
    for index in (keys.index(status="waiting"), keys.index(status="waiting", function="echo")):
        assert await redis.zcard(index) == 1
    assert [e["type"] for e in await stream_events(redis, keys.job_events("j1"))] == ["enqueued"]
    assert [e["type"] for e in await stream_events(redis, keys.EVENTS)] == ["enqueued"]
    assert 0 < await redis.pttl(keys.record("j1")) <= Settings().history_ttl * 1000


async def test_re_enqueueing_an_id_replaces_the_old_history(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="again", message="old")
    await redis.delete(job_key_prefix + "again")  # the old job is gone from arq
    await redis.zrem("arq:queue", "again")
    await redis.enqueue_job("sleep", _job_id="again", seconds=1)
    assert await redis.zcard(keys.index(status="waiting")) == 1
    assert await redis.zcard(keys.index(status="waiting", function="echo")) == 0
    assert [e["type"] for e in await stream_events(redis, keys.job_events("again"))] == ["enqueued"]


@pytest.fixture
async def sent(redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The commands of every pipeline sent to Redis (the script already loaded)."""
    await redis.script_load(enqueue_module.ENQUEUE.text)
    batches: list[list[Any]] = []
    execute = Pipeline.execute

    async def recording(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        batches.append([command[0] for command, _ in pipe.command_stack])
        return await execute(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", recording)
    return batches


async def test_concurrent_enqueues_run_in_one_script_call(
    redis: TrackedRedis, sent: list[list[Any]]
) -> None:
    specs = [EnqueueSpec("echo", {"message": str(n)}) for n in range(5)]
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="twice"))
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="twice"))
    outcomes = await asyncio.gather(*(redis.enqueue_one(spec) for spec in specs))
    assert sent == [["EVALSHA"]]
    assert [o.created for o in outcomes] == [True] * 6 + [False]  # the repeat found the first
    assert await redis.zcard("arq:queue") == 6


async def test_a_large_batch_is_split_into_script_calls_in_order(
    redis: TrackedRedis, sent: list[list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enqueue_module, "ENQUEUE_CHUNK", 3)
    specs = [EnqueueSpec("echo", {"message": str(n)}, job_id=f"j{n}") for n in range(7)]
    specs.append(EnqueueSpec("echo", {"message": "0"}, job_id="j0"))
    outcomes = await redis.enqueue_many(specs)
    assert sent == [["EVALSHA"] * 3]  # 3 + 3 + 2 jobs, pipelined
    assert [(o.job_id, o.created) for o in outcomes] == [
        *((f"j{n}", True) for n in range(7)),
        ("j0", False),
    ]


async def test_enqueues_work_after_redis_lost_its_scripts(redis: TrackedRedis) -> None:
    await redis.enqueue_one(EnqueueSpec("echo", {"message": "before"}))
    await redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    one = await redis.enqueue_one(EnqueueSpec("echo", {"message": "after"}))
    many = await redis.enqueue_many([EnqueueSpec("echo", {"message": "x"}) for _ in range(3)])
    assert one.created
    assert all(o.created for o in many)
    assert await redis.zcard("arq:queue") == 5


async def test_a_job_the_script_refuses_writes_nothing_and_fails_alone(
    redis: TrackedRedis,
) -> None:
    enqueuer = redis.enqueuer
    calls = [enqueuer._call(EnqueueSpec("echo", {"message": m}, job_id=m)) for m in ("a", "b", "c")]
    calls[1].args[3] = "0"  # a job data TTL the script must refuse before writing anything
    replies = await enqueuer._send(calls)
    outcomes = [call.outcome(reply) for call, reply in zip(calls, replies, strict=True)]
    assert [(o.job_id, o.created) for o in outcomes] == [("a", True), ("b", False), ("c", True)]
    assert outcomes[1].rejected is not None
    assert "job b not enqueued: job data TTL is not a positive integer" in outcomes[1].rejected
    assert await redis.exists(keys.job("b"), keys.record("b"), keys.job_events("b")) == 0
    assert await redis.zscore("arq:queue", "b") is None
    assert await redis.zcard("arq:queue") == 2


async def test_a_deferral_into_the_past_means_now(redis: TrackedRedis) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    outcome = await redis.enqueue_one(EnqueueSpec("echo", {"message": "m"}, defer_until=past))
    assert outcome.created
    assert outcome.score == outcome.enqueue_ms  # due now, and its data outlives the wait
    assert await redis.pttl(keys.job(outcome.job_id)) > 0


@pytest.mark.parametrize(
    "key",
    [
        keys.EVENTS,
        keys.index(status="waiting"),
        keys.index(status="waiting", function="echo"),
        keys.INDEXED_FUNCTIONS,
        keys.record("j"),
    ],
    ids=["events", "status-index", "function-index", "indexed-functions", "record"],
)
async def test_a_key_of_the_wrong_type_is_left_alone_and_the_job_enqueued(
    redis: TrackedRedis, key: str
) -> None:
    await redis.set(key, "planted")
    assert (await redis.enqueue_one(EnqueueSpec("echo", {"message": "hi"}, job_id="j"))).created
    assert await redis.zscore(keys.DEFAULT_QUEUE, "j") is not None
    assert decode_hash(await redis.hgetall(keys.record("j")))["function"] == "echo"  # type: ignore[misc]


async def test_a_queue_of_the_wrong_type_refuses_the_job_and_writes_nothing(
    redis: TrackedRedis,
) -> None:
    await redis.set(keys.DEFAULT_QUEUE, "planted")
    outcome = await redis.enqueue_one(EnqueueSpec("echo", {"message": "hi"}, job_id="j"))
    assert outcome.rejected is not None
    assert "queue" in outcome.rejected
    assert await redis.exists(keys.job("j"), keys.record("j")) == 0
