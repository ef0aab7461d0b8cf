"""Reading records and a job's keys back (fakeredis): a key of the wrong type spoils only its
own item, and says so."""

from structlog.testing import capture_logs

from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.store.job_state import read_job_state
from jobqueue.store.records import decode_hash, read_records


async def test_a_record_of_the_wrong_type_spoils_only_its_job(redis: TrackedRedis) -> None:
    await redis.hset(keys.record("good"), mapping={"function": "echo"})  # type: ignore[misc]
    await redis.set(keys.record("bad"), "planted")
    with capture_logs() as logs:
        good, bad = await read_records(redis, ["good", "bad"])
    assert (good.record, good.wrong_type) == ({"function": "echo"}, ())
    assert (bad.record, bad.wrong_type) == ({}, ("record",))
    assert [line["key"] for line in logs] == [keys.record("bad")]


async def test_a_result_of_the_wrong_type_reads_as_none(redis: TrackedRedis) -> None:
    await redis.hset(keys.result("j"), "planted", "1")  # type: ignore[misc]
    [stored] = await read_records(redis, ["j"])
    assert (stored.result, stored.wrong_type) == (None, ("result",))


async def test_a_jobs_keys_of_the_wrong_type_are_named_in_its_state(redis: TrackedRedis) -> None:
    await redis.hset(keys.job("j"), "planted", "1")  # type: ignore[misc]
    await redis.sadd(keys.retry("j"), "planted")  # type: ignore[misc]
    await redis.set(keys.record("j"), "planted")
    state = await read_job_state(redis, "arq:queue", "j")
    assert (state.job, state.tries, state.record) == (None, 0, {})
    assert sorted(state.wrong_type) == ["job", "record"]


async def test_a_queue_of_the_wrong_type_is_named_in_a_jobs_state(redis: TrackedRedis) -> None:
    await redis.set("arq:queue", "planted")
    state = await read_job_state(redis, "arq:queue", "j")
    assert (state.score, state.wrong_type) == (None, ("queue",))


def test_invalid_utf8_in_a_record_is_replaced_not_raised() -> None:
    assert decode_hash({b"function": b"\xffecho"}) == {"function": "\ufffdecho"}
