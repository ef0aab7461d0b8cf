"""The claim script (`claim.lua`, against fakeredis): a claimed job's start is recorded, a run
that never ended is a stall (not a try); bad arguments are refused before any write, and a
record the service did not write, or a key of the wrong type, does not stop the claim."""

import time
from collections.abc import Mapping, Sequence

import pytest
from redis.exceptions import ResponseError

from jobqueue.store import keys
from jobqueue.store.claim import CLAIM, Claimed, claim
from jobqueue.store.client import TrackedRedis
from jobqueue.store.records import decode_hash
from jobqueue.store.statistics import read_job_counters
from tests.helpers.redis_data import QUEUE, start_job, stream_events


async def record(redis: TrackedRedis, job_id: str) -> dict[str, str]:
    return decode_hash(await redis.hgetall(keys.record(job_id)))  # type: ignore[misc]


async def test_a_claim_records_the_start_with_its_try(redis: TrackedRedis) -> None:
    await redis.enqueue_job("echo", _job_id="j", message="hi")
    before_ms = int(time.time() * 1000)
    claimed = await start_job(redis, "j", owner="w1")
    assert (claimed.job_id, claimed.stalls) == ("j", 0)
    started = await record(redis, "j")
    assert (started["status"], started["tries"]) == ("in_progress", "1")
    assert int(started["start_ms"]) >= before_ms
    assert await redis.zcard(keys.index(status="waiting")) == 0
    assert await redis.zcard(keys.index(status="in_progress", function="echo")) == 1
    [_, event] = await stream_events(redis, keys.job_events("j"))
    assert (event["type"], event["try"]) == ("started", 1)
    assert await redis.get(keys.in_progress("j")) == b"w1"
    assert await redis.smembers(keys.leases("w1")) == {keys.in_progress("j").encode()}  # type: ignore[misc]


async def test_a_run_that_never_ended_is_a_stall_and_gives_its_try_back(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="j", message="hi")
    await start_job(redis, "j", owner="w1")
    await redis.delete(keys.in_progress("j"))  # w1 died; its lease ran out
    again = await start_job(redis, "j", owner="w2")
    assert again.stalls == 1
    assert await redis.get(keys.retry("j")) == b"1"  # the same try again
    assert (await record(redis, "j"))["stalls"] == "1"
    assert (await read_job_counters(redis)).stalled == {"echo": 1}
    tries = [e["try"] for e in (await stream_events(redis, keys.job_events("j")))[1:]]
    assert tries == [1, 1]


async def test_no_start_is_recorded_for_a_job_arq_ends_without_running(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="used-up", message="hi")
    await redis.set(keys.retry("used-up"), 3)  # its tries used up (runs cancelled outside)
    [claimed] = await claim(
        redis,
        QUEUE,
        ["used-up"],
        now_ms=int(time.time() * 1000),
        lease_ms=15_000,
        owner="w1",
        aborts=False,
        limit=1,
        events_max_length=1000,
        max_tries={"echo": 3},
        history_ttl_ms=60_000,
    )
    redis.forget(claimed.opening)
    assert (await record(redis, "used-up"))["status"] == "waiting"  # arq fails it at once
    assert [e["type"] for e in await stream_events(redis, keys.job_events("used-up"))] == [
        "enqueued"
    ]


async def test_a_record_the_service_did_not_write_does_not_stop_the_claim(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="odd", message="hi")
    await redis.enqueue_job("echo", _job_id="fine", message="hi")
    # a record with no function and a non-numeric enqueue time, marked in progress
    await redis.hset(keys.record("odd"), mapping={"status": "in_progress", "enqueue_ms": "x"})  # type: ignore[misc]
    await redis.hdel(keys.record("odd"), "function")  # type: ignore[misc]
    claimed = await claim_now(redis, ["odd", "fine"], aborts=False)
    assert [job.job_id for job in claimed] == ["odd", "fine"]
    assert (await record(redis, "fine"))["status"] == "in_progress"
    assert (await record(redis, "odd"))["status"] == "in_progress"  # (left as it was)


@pytest.mark.parametrize(
    ("position", "value"),
    # the index prefix, the history TTL, the events' max length, max tries JSON, the tenant
    # slots and the tenants (not JSON, not numbers / strings, not one per job), a job id too
    # many for the keys
    [
        (6, ""),
        (12, "0"),
        (12, "1.5"),
        (4, "0x10"),
        (0, "1e12"),
        (7, "-1"),
        (11, '{"echo": "3"}'),
        (13, "not json"),
        (13, '{"a": "1"}'),
        (14, '["a", "b"]'),
        (14, "[1]"),
        (14, '[{"a": 1}]'),
        (14, "{"),
        (15, ("fine", "x")),
    ],
)
async def test_a_bad_argument_is_refused_before_anything_is_written(
    redis: TrackedRedis, position: int, value: str | tuple[str, str]
) -> None:
    await redis.enqueue_job("echo", _job_id="fine", message="hi")
    before = await redis.hgetall(keys.record("fine"))  # type: ignore[misc]
    now_ms = int(time.time() * 1000) + 1000
    args = [now_ms, 15_000, 0, 1, 88400, "w1", keys.INDEX_PREFIX, 1000, "waiting"]
    args += ["in_progress", "started", "{}", 60_000, "{}", "[]", "fine"]
    if isinstance(value, tuple):
        args[position : position + 1] = list(value)
    else:
        args[position] = value
    job_keys = [keys.in_progress("fine"), keys.job("fine"), keys.retry("fine")]
    job_keys += [keys.record("fine"), keys.job_events("fine")]
    all_keys = [QUEUE, keys.ABORTS, keys.EVENTS, keys.leases("w1"), keys.METRICS_STALLED]
    with pytest.raises(ResponseError):
        await CLAIM.run(redis, [*all_keys, *job_keys], args)
    assert await redis.hgetall(keys.record("fine")) == before  # type: ignore[misc]
    assert await redis.get(keys.in_progress("fine")) is None


async def claim_now(
    redis: TrackedRedis,
    job_ids: list[str],
    *,
    aborts: bool = False,
    tenants: Sequence[str | None] = (),
    tenant_slots: Mapping[str, int] | None = None,
) -> list[Claimed]:
    """Claim `job_ids` (all due) for worker w1; their openings forgotten (as the worker does)."""
    claimed = await claim(
        redis,
        QUEUE,
        job_ids,
        now_ms=int(time.time() * 1000) + 1000,
        lease_ms=15_000,
        owner="w1",
        aborts=aborts,
        limit=len(job_ids),
        events_max_length=1000,
        max_tries={},
        history_ttl_ms=60_000,
        tenants=tenants,
        tenant_slots=tenant_slots,
    )
    for job in claimed:
        redis.forget(job.opening)
    return claimed


# (case, the key planted, what it holds): the claim goes on and names the key
SPOILT_KEYS = [
    ("job-data-a-hash", keys.job("spoilt"), "hash"),
    ("try-counter-a-hash", keys.retry("spoilt"), "hash"),
    ("try-counter-not-an-integer", keys.retry("spoilt"), "x"),
    ("record-a-string", keys.record("spoilt"), "string"),
    ("job-events-a-string", keys.job_events("spoilt"), "string"),
    ("an-index-a-string", keys.index(status="waiting", function="echo"), "string"),
    ("abort-set-a-string", keys.ABORTS, "string"),
    ("events-a-hash", keys.EVENTS, "hash"),
]


@pytest.mark.parametrize(
    ("key", "kind"), [c[1:] for c in SPOILT_KEYS], ids=[c[0] for c in SPOILT_KEYS]
)
async def test_a_key_of_the_wrong_type_is_named_and_the_claim_goes_on(
    redis: TrackedRedis, key: str, kind: str
) -> None:
    await redis.enqueue_job("echo", _job_id="spoilt", message="hi")
    await redis.enqueue_job("echo", _job_id="fine", message="hi")
    await redis.delete(key)
    if kind == "hash":
        await redis.hset(key, "planted", "1")  # type: ignore[misc]
    else:
        await redis.set(key, "planted" if kind == "string" else kind)
    spoilt, fine = await claim_now(redis, ["spoilt", "fine"], aborts=True)
    assert key in spoilt.wrong_type
    assert fine.job_id == "fine"
    assert await redis.get(keys.in_progress("fine")) == b"w1"
    assert await redis.get(keys.retry("spoilt")) == b"1"  # (one INCR takes, from 0 if it was bad)


async def test_a_lease_set_of_the_wrong_type_refuses_the_claim_before_any_write(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="fine", message="hi")
    await redis.set(keys.leases("w1"), "planted")
    with pytest.raises(ResponseError, match="lease set"):
        await claim_now(redis, ["spoilt", "fine"], aborts=True)
    assert await redis.get(keys.in_progress("fine")) is None


async def test_the_claim_takes_no_more_of_a_tenants_jobs_than_its_slots(
    redis: TrackedRedis,
) -> None:
    job_ids = ["a~1", "a~2", "a~3", "b~1", "system"]
    for job_id in job_ids:
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    claimed = await claim_now(
        redis, job_ids, tenants=["a", "a", "a", "b", None], tenant_slots={"a": 2, "b": 0}
    )
    assert [job.job_id for job in claimed] == ["a~1", "a~2", "system"]
    for passed_over in ("a~3", "b~1"):  # left queued, untouched: no lease, no try
        assert await redis.get(keys.in_progress(passed_over)) is None
        assert await redis.get(keys.retry(passed_over)) is None
        assert (await record(redis, passed_over))["status"] == "waiting"


async def test_a_tenants_job_running_elsewhere_takes_none_of_its_slots(
    redis: TrackedRedis,
) -> None:
    for job_id in ("a~1", "a~2"):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    await redis.set(keys.in_progress("a~1"), "w2")
    claimed = await claim_now(redis, ["a~1", "a~2"], tenants=["a", "a"], tenant_slots={"a": 1})
    assert [job.job_id for job in claimed] == ["a~2"]


async def test_a_tenant_named_by_the_empty_string_is_capped_too(redis: TrackedRedis) -> None:
    for job_id in ("~1", "~2"):
        await redis.enqueue_job("echo", _job_id=job_id, message="hi")
    claimed = await claim_now(redis, ["~1", "~2"], tenants=["", ""], tenant_slots={"": 1})
    assert [job.job_id for job in claimed] == ["~1"]
