"""Counting for operators (fakeredis): a counter that is not a number, a snapshot that is not
one, or a key of the wrong type is left out (logged), never a failed view."""

import time

from structlog.testing import capture_logs

from jobqueue.ops.stats import QueueSnapshot, read_history
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.statistics import count_queue, finished_counts, read_job_counters

QUEUE = "arq:queue"


async def test_a_finished_count_not_a_number_counts_as_none(redis: TrackedRedis) -> None:
    bucket = int(time.time()) // keys.COUNT_BUCKET_SECONDS
    await redis.set(keys.finished_count(QUEUE, "succeeded", bucket), "x")
    await redis.set(keys.finished_count(QUEUE, "succeeded", bucket - 1), "3")
    assert await finished_counts(redis, QUEUE, ["succeeded"], 60) == {"succeeded": 3}


async def test_malformed_counters_are_left_out(redis: TrackedRedis) -> None:
    await redis.hset(keys.METRICS_FINISHED, mapping={"echo|succeeded": "2", "x|failed": "two"})  # type: ignore[misc]
    await redis.set(keys.METRICS_RETRIED, "planted")
    await redis.sadd(keys.METRICS_DURATION_FUNCTIONS, "echo", "bad", "gone")  # type: ignore[misc]
    await redis.hset(keys.metrics_duration("echo"), mapping={"0.005": "1", "sum": "0.001"})  # type: ignore[misc]
    await redis.hset(keys.metrics_duration("bad"), mapping={"0.005": "x", "sum": "nan"})  # type: ignore[misc]
    await redis.set(keys.metrics_duration("gone"), "planted")
    with capture_logs() as logs:
        counters = await read_job_counters(redis)
    assert counters.finished == {("echo", "succeeded"): 2}
    assert counters.retried == {}
    assert counters.durations == {"echo": {"0.005": "1", "sum": "0.001"}}
    assert {line["key"] for line in logs} == {
        keys.METRICS_FINISHED,
        keys.METRICS_RETRIED,
        keys.metrics_duration("bad"),
        keys.metrics_duration("gone"),
    }


async def test_a_set_of_timed_functions_of_the_wrong_type_reads_as_none(
    redis: TrackedRedis,
) -> None:
    await redis.set(keys.METRICS_DURATION_FUNCTIONS, "planted")
    assert (await read_job_counters(redis)).durations == {}


async def test_a_queue_of_the_wrong_type_counts_as_empty(redis: TrackedRedis) -> None:
    await redis.set(QUEUE, "planted")
    counts = await count_queue(redis, QUEUE)
    assert (counts.queued, counts.deferred, counts.in_progress) == (0, 0, 0)


async def test_an_infinite_score_is_not_the_oldest_waiting(redis: TrackedRedis) -> None:
    await redis.zadd(QUEUE, {"planted": float("-inf")})
    assert (await count_queue(redis, QUEUE)).oldest_waiting_ms is None


async def test_a_malformed_snapshot_is_left_out_of_the_history(redis: TrackedRedis) -> None:
    good = QueueSnapshot(
        queue=QUEUE,
        taken_at="2026-01-01T00:00:00Z",
        queued=1,
        deferred=0,
        in_progress=0,
        oldest_waiting_age_s=None,
    )
    key = keys.stats_history(QUEUE)
    await redis.rpush(key, good.model_dump_json(), "{", '{"queue": "q"}', b"\xff")  # type: ignore[misc]
    with capture_logs() as logs:
        assert await read_history(redis, QUEUE, 10) == [good]
    assert [line["field"] for line in logs] == ["[1]", "[2]", "[3]"]


async def test_a_history_of_the_wrong_type_reads_as_empty(redis: TrackedRedis) -> None:
    await redis.set(keys.stats_history(QUEUE), "planted")
    assert await read_history(redis, QUEUE, 10) == []
