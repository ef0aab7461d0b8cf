"""One job's view from its keys (fakeredis): a key of the wrong type is read as none and named
in a `CorruptJobData` error; the job is still shown."""

from jobqueue.history.lookup import read_job
from jobqueue.history.vocabulary import JobStatus
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from tests.helpers.redis_data import QUEUE


async def test_a_result_of_the_wrong_type_shows_a_failed_job(redis: TrackedRedis) -> None:
    await redis.hset(keys.result("j"), "planted", "1")  # type: ignore[misc]
    view = await read_job(redis, QUEUE, "j")
    assert view is not None
    assert view.status == JobStatus.failed
    assert view.error is not None
    assert (view.error.type, view.error.message) == (
        "CorruptJobData",
        "its result key: of the wrong type",
    )


async def test_a_job_key_of_the_wrong_type_shows_the_waiting_job(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="j", message="hi")
    await redis.delete(keys.job("j"))
    await redis.hset(keys.job("j"), "planted", "1")  # type: ignore[misc]
    view = await read_job(redis, QUEUE, "j")
    assert view is not None
    assert view.status == JobStatus.queued
    assert view.function == "echo"  # (from its record)
    assert view.error is not None
    assert "its job key" in view.error.message


async def test_a_queue_of_the_wrong_type_is_named_only_for_jobs_yet_to_end(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="waiting", message="hi")
    await redis.hset(keys.record("done"), mapping={"function": "echo", "status": "succeeded"})  # type: ignore[misc]
    await redis.delete(QUEUE)
    await redis.set(QUEUE, "planted")
    waiting, done = await read_job(redis, QUEUE, "waiting"), await read_job(redis, QUEUE, "done")
    assert waiting is not None
    assert waiting.error is not None
    assert "its queue key" in waiting.error.message
    assert done is not None
    assert done.error is None
