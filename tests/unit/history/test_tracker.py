"""History records, index and events, against fakeredis (which runs our Lua)."""

import json

from jobqueue.history.tracker import JobTracker
from jobqueue.serialization import serialize
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash
from tests.helpers.redis_data import stream_events

FIXED_MS = 1_800_000_000_000


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
    events = await stream_events(redis, keys.job_events("j2"))
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
    assert (await stream_events(redis, keys.job_events("j3")))[-1]["type"] == "failed"
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
    events = await stream_events(redis, keys.job_events("j4"))
    assert events[-1]["type"] == "expired"
    record = decode_hash(await redis.hgetall(keys.record("j4")))  # type: ignore[misc]
    assert (record["status"], record["function"]) == ("failed", "echo")


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
    assert (await stream_events(redis, keys.job_events("j5")))[-1]["type"] == "succeeded"
