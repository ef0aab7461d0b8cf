"""History records, index and events, against fakeredis (which runs our Lua)."""

import json

from jobqueue.history.streams import Event
from jobqueue.history.tracker import JobTracker
from jobqueue.serialization import serialize
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash
from jobqueue.store.streams import read_job_history
from jobqueue.store.transitions import FINISHED_STREAM_TTL_MS
from tests.helpers.redis_data import plant_result, start_job, stream_events

FIXED_MS = 1_800_000_000_000


async def test_transitions_move_the_job_between_status_indexes(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="j2", message="hi")
    await start_job(redis, "j2")
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
    await start_job(redis, "j3")
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


async def test_a_finished_jobs_events_are_kept_in_its_record_and_its_stream_soon_goes(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="kept", message="hi")
    await start_job(redis, "kept")
    await plant_result(redis, "kept", success=True, result={"message": "hi"})
    live = await read_job_history(redis, "kept", None)  # from the job's own stream
    assert [e.type for e in live] == ["enqueued", "started", "succeeded"]
    assert 0 < await redis.pttl(keys.job_events("kept")) <= FINISHED_STREAM_TTL_MS
    await redis.delete(keys.job_events("kept"))  # as its expiry will
    assert await read_job_history(redis, "kept", None) == live  # the same entries, ids and all
    assert await read_job_history(redis, "kept", live[0].id) == live[1:]  # Last-Event-ID resumes


async def test_of_a_finished_jobs_progress_reports_only_the_last_is_kept(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("sleep", _job_id="slow", seconds=3)
    await start_job(redis, "slow")
    for done in (1, 2):
        await tracker.progress(redis, "slow", done, 3, f"{done} of 3")
    await plant_result(redis, "slow", success=True, result={"slept": 3.0}, function="sleep")
    await redis.delete(keys.job_events("slow"))
    kept = await read_job_history(redis, "slow", None)
    assert [e.type for e in kept] == ["enqueued", "started", "progress", "succeeded"]
    assert kept[2].data["progress"]["current"] == 2


async def test_events_read_the_same_from_the_stream_and_from_the_record(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="same", _defer_by=60, message="hi")
    await start_job(redis, "same")
    await plant_result(redis, "same", success=False, result=ValueError("no"))
    live = [Event.from_entry(e).data for e in await read_job_history(redis, "same", None)]
    await redis.delete(keys.job_events("same"))
    kept = [Event.from_entry(e).data for e in await read_job_history(redis, "same", None)]
    assert kept == live
    assert [(e["type"], e["status"]) for e in live] == [
        ("enqueued", "deferred"),
        ("started", "in_progress"),
        ("failed", "failed"),
    ]
    assert live[0]["at"].endswith("+00:00")  # shown as ISO-8601, stored as epoch ms
