"""A tenant's share of the queue (fakeredis): the scripts keep it beside the queue (enqueue,
retry, interruption, end), it counts as the queue does, a tenant's finishes are counted for it,
and the sweep mends a share and forgets an idle tenant."""

from datetime import timedelta

import httpx

from jobqueue.clock import now_ms
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.maintenance import NoArgs, queue_stats, sweep
from jobqueue.ops.stats import finished_counts, read_history
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.aborts import abort_before_start
from jobqueue.store.client import TrackedRedis
from jobqueue.store.statistics import count_queue, known_tenants
from jobqueue.store.transitions import Transition

QUEUE = "arq:queue"
ACME = keys.tenant_queue(QUEUE, "acme")


def context(redis: TrackedRedis, settings: Settings) -> JobContext:
    return JobContext("sweep-1", 1, 1, settings, redis, httpx.AsyncClient(), JobTracker(settings))


async def share(redis: TrackedRedis, tenant: str = "acme") -> dict[str, float]:
    entries = await redis.zrange(keys.tenant_queue(QUEUE, tenant), 0, -1, withscores=True)
    return {member.decode(): score for member, score in entries}


async def test_a_tenants_jobs_enter_its_share_with_their_queue_scores(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~now", message="x")
    await redis.enqueue_job("echo", _job_id="acme~later", message="x", _defer_by=timedelta(hours=1))
    await redis.enqueue_job("echo", _job_id="rival~x", message="x")
    await redis.enqueue_job("echo", _job_id="system-job", message="x")

    assert await share(redis) == {
        "acme~now": await redis.zscore(QUEUE, "acme~now"),
        "acme~later": await redis.zscore(QUEUE, "acme~later"),
    }
    assert list(await share(redis, "rival")) == ["rival~x"]
    assert await known_tenants(redis) == ["acme", "rival"]
    counts = await count_queue(redis, QUEUE, "acme")
    assert (counts.queued, counts.deferred, counts.in_progress) == (1, 1, 0)
    everyone = await count_queue(redis, QUEUE)
    assert (everyone.queued, everyone.deferred) == (3, 1)


async def test_a_retry_moves_the_job_in_its_share_and_its_end_takes_it_out(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~r", message="x")
    await tracker.retry_scheduled(redis, "acme~r", "echo", 1, 3600, {"type": "E", "message": "m"})
    [(_, due)] = (await share(redis)).items()
    assert due > now_ms() + 3_500_000
    assert (await count_queue(redis, QUEUE, "acme")).deferred == 1

    await tracker.interrupted(redis, "acme~r", 2)
    assert (await share(redis))["acme~r"] <= now_ms()

    assert await abort_before_start(redis, QUEUE, "acme~r", result_ttl_ms=60_000)
    assert await share(redis) == {}
    minute = await finished_counts(redis, QUEUE, 60, "acme")
    assert minute.aborted == 1
    assert (await finished_counts(redis, QUEUE, 60, "rival")).aborted == 0
    assert (await finished_counts(redis, QUEUE, 60)).aborted == 1


async def test_a_transition_after_the_end_does_not_put_the_job_back(
    redis: TrackedRedis, tracker: JobTracker
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~e", message="x")
    await tracker.expired(redis, "acme~e")
    await tracker.retry_scheduled(redis, "acme~e", "echo", 1, 60, {"type": "E", "message": "m"})
    assert await share(redis) == {}


async def test_a_write_for_a_job_not_in_its_share_does_not_add_it(
    redis: TrackedRedis, settings: Settings
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~gone", message="x")
    await redis.zrem(ACME, "acme~gone")  # (mended away by the sweep, say)
    writer = redis.transitions
    await writer.write(
        redis, "acme~gone", Transition("waiting", [("interrupted", b"{}")], {"scheduled_ms": "1"})
    )
    assert await share(redis) == {}


async def test_the_sweep_mends_a_share_and_forgets_a_tenant_idle_for_the_retention(
    redis: TrackedRedis,
) -> None:
    settings = Settings(history_ttl=3600)
    await redis.enqueue_job("echo", _job_id="acme~kept", message="x")
    await redis.zadd(ACME, {"acme~lost": now_ms()})  # not in the queue
    await redis.enqueue_job("echo", _job_id="busy~waits", message="x")
    long_ago = now_ms() - 7_200_000  # (past the retention: only a waiting job keeps "busy")
    await redis.zadd(keys.TENANTS, {"idle": long_ago, "busy": long_ago})

    result = await sweep.func(context(redis, settings), NoArgs())

    assert result is not None
    swept = result.model_dump()
    assert (swept["tenant_entries_mended"], swept["tenants_forgotten"]) == (1, 1)
    assert list(await share(redis)) == ["acme~kept"]
    assert await known_tenants(redis) == ["acme", "busy"]


async def test_queue_stats_records_each_tenants_share_in_its_own_series(
    redis: TrackedRedis, settings: Settings
) -> None:
    await redis.enqueue_job("echo", _job_id="acme~s", message="x", _defer_by=timedelta(hours=1))
    await redis.enqueue_job("echo", _job_id="s", message="x")

    await queue_stats.func(context(redis, settings), NoArgs())

    [acme] = await read_history(redis, QUEUE, 10, "acme")
    assert (acme.queued, acme.deferred) == (0, 1)
    [everyone] = await read_history(redis, QUEUE, 10)
    assert (everyone.queued, everyone.deferred) == (1, 1)
    ttl = await redis.pttl(keys.stats_history(QUEUE, "acme"))
    assert 0 < ttl <= settings.history_ttl * 1000


async def test_keys_of_the_wrong_type_fail_neither_an_enqueue_nor_the_crons(
    redis: TrackedRedis, settings: Settings
) -> None:
    await redis.zadd(keys.TENANTS, {"planted": now_ms()})
    await redis.set(keys.tenant_queue(QUEUE, "planted"), "planted")
    await redis.set(keys.stats_history(QUEUE, "planted"), "planted")
    assert await redis.enqueue_job("echo", _job_id="planted~x", message="x") is not None

    assert await queue_stats.func(context(redis, settings), NoArgs()) is not None
    swept = await sweep.func(context(redis, settings), NoArgs())
    assert swept is not None
    assert swept.model_dump()["tenants_forgotten"] == 0
    counts = await count_queue(redis, QUEUE, "planted")
    assert (counts.queued, counts.deferred, counts.in_progress) == (0, 0, 0)

    await redis.set(keys.TENANTS, "planted")
    assert await redis.enqueue_job("echo", _job_id="acme~y", message="x") is not None
    assert await known_tenants(redis) == []
    assert await queue_stats.func(context(redis, settings), NoArgs()) is not None
    assert await sweep.func(context(redis, settings), NoArgs()) is not None
