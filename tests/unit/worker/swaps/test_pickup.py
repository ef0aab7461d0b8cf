"""Claiming jobs in one script call, and the arq internals it relies on."""

import asyncio
import inspect
from typing import Any

import arq.worker
import pytest
from arq.constants import in_progress_key_prefix, retry_key_prefix
from arq.jobs import Job
from arq.worker import Worker
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store.claim import RETRY_KEY_TTL_S, claim
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.heartbeat import WorkerStats
from jobqueue.worker.leases import Leases
from jobqueue.worker.swaps import pickup
from jobqueue.worker.swaps.wakeup import WakeUp


def test_arqs_poll_iteration_still_starts_jobs_through_start_jobs() -> None:
    source = inspect.getsource(Worker._poll_iteration)
    assert "await self.start_jobs(job_ids)" in source
    # a page of the first queue_read_limit due jobs (read on past it: `_read_past_the_page`)
    assert "count = self.queue_read_limit" in source
    assert "start=self._queue_read_offset, num=count" in source
    assert "self._queue_read_offset = 0" in inspect.getsource(Worker.__init__)
    # the slot accounting `pickup.start_jobs` shares with arq
    assert "self.sem.release()" in inspect.getsource(Worker._release_sem_dec_counter_on_complete)
    assert "self.job_counter - 1" in inspect.getsource(Worker._release_sem_dec_counter_on_complete)


def test_install_replaces_arqs_start_jobs_and_its_undo_restores_it() -> None:
    original = Worker.start_jobs
    undo = pickup.install()
    try:
        assert Worker.start_jobs is pickup.start_jobs
    finally:
        undo()
    assert Worker.start_jobs is original


def _worker(redis: TrackedRedis, max_jobs: int = 10, owner: str = "w1") -> Worker:
    async def noop(ctx: dict[str, Any]) -> None:
        return None

    worker = Worker(
        functions=[arq.worker.func(noop, name="noop")],
        redis_pool=redis,
        max_jobs=max_jobs,
        handle_signals=False,
        # as the composition root and the start-up hook put them there
        ctx={"leases": Leases(owner, Settings(worker_lease=15)), "settings": Settings()},
    )
    worker.run_job = _record_runs(worker)  # type: ignore[method-assign]
    return worker


def _record_runs(worker: Worker) -> Any:
    runs: list[tuple[str, int]] = []
    worker.runs = runs  # type: ignore[attr-defined]

    async def run_job(job_id: str, score: int) -> None:
        runs.append((job_id, score))

    return run_job


async def test_claims_due_jobs_that_no_one_runs(redis: TrackedRedis) -> None:
    for job_id in ("due", "running", "later"):
        await redis.enqueue_job("noop", _job_id=job_id, _defer_by=60 if job_id == "later" else 0)
    await redis.set(in_progress_key_prefix + "running", b"1")
    worker = _worker(redis)
    await pickup.start_jobs(worker, [b"due", b"running", b"later", b"gone"])
    await worker.tasks["due"]
    assert [job_id for job_id, _ in worker.runs] == ["due"]  # type: ignore[attr-defined]
    assert worker.runs[0][1] == int(await redis.zscore("arq:queue", "due"))  # type: ignore[attr-defined]
    assert 0 < await redis.pttl(in_progress_key_prefix + "due") <= 15_000  # a short lease...
    assert await redis.get(in_progress_key_prefix + "due") == b"w1"  # ...held by this worker
    assert await redis.get(retry_key_prefix + "due") == b"1"  # run_job's opening ran
    assert 0 < await redis.ttl(retry_key_prefix + "due") <= RETRY_KEY_TTL_S
    assert worker.job_counter == 0  # the finished task gave its slot back


async def test_a_job_is_claimed_once_across_workers(redis: TrackedRedis) -> None:
    await redis.enqueue_job("noop", _job_id="contested")
    first, second = _worker(redis), _worker(redis)
    await pickup.start_jobs(first, [b"contested"])
    await pickup.start_jobs(second, [b"contested"])
    assert list(first.tasks) == ["contested"]
    assert second.tasks == {}


async def test_claims_no_more_jobs_than_free_slots(redis: TrackedRedis) -> None:
    for n in range(5):
        await redis.enqueue_job("noop", _job_id=f"j{n}")
    worker = _worker(redis, max_jobs=3)
    worker.job_counter = 1  # one job already running
    await pickup.start_jobs(worker, [f"j{n}".encode() for n in range(5)])
    assert sorted(worker.tasks) == ["j0", "j1"]
    assert not await redis.exists(in_progress_key_prefix + "j2")  # left for another worker


def test_run_job_still_opens_with_the_commands_the_claim_runs_for_it() -> None:
    source = inspect.getsource(Worker.run_job)
    opening = source[: source.index("await pipe.execute()")]
    assert "pipe.get(job_key_prefix + job_id)" in opening
    assert "pipe.incr(retry_key_prefix + job_id)" in opening
    assert f"pipe.expire(retry_key_prefix + job_id, {RETRY_KEY_TTL_S})" in opening
    assert "pipe.zrem(abort_jobs_ss, job_id)" in opening


async def test_a_claimed_job_runs_in_arq_without_another_round_trip(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries: list[int] = []

    async def count_try(ctx: dict[str, Any]) -> str:
        tries.append(ctx["job_try"])
        return "done"

    worker = Worker(
        functions=[arq.worker.func(count_try, name="count_try")],
        redis_pool=redis,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={"leases": Leases("w1", Settings(worker_lease=15)), "settings": Settings()},
    )
    await redis.enqueue_job("count_try", _job_id="one")
    sent: list[list[Any]] = []  # what pipelines actually send to Redis
    send = Pipeline.execute

    async def execute(pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        sent.append([command for command, _ in pipe.command_stack])
        return await send(pipe, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", execute)
    await pickup.start_jobs(worker, [b"one"])
    await worker.tasks["one"]
    assert tries == [1]
    result = await Job("one", redis, _deserializer=deserialize).result_info()
    assert result is not None
    assert (result.success, result.result, result.job_try) == (True, "done", 1)
    assert not await redis.exists(retry_key_prefix + "one")  # arq's finish removed it
    assert all(commands[0][0] != "GET" for commands in sent)  # the opening was not sent
    assert redis.prepared == {}


async def test_a_finished_job_wakes_the_poll_loop_once_its_slot_is_free(
    redis: TrackedRedis,
) -> None:
    await redis.enqueue_job("noop", _job_id="short")
    worker = _worker(redis, max_jobs=1)
    wakeup = worker.ctx["wakeup"] = WakeUp()
    woken_with_free_slot: list[bool] = []
    wakeup.slot_freed = lambda: woken_with_free_slot.append(worker.job_counter == 0)  # type: ignore[method-assign]
    await pickup.start_jobs(worker, [b"short"])
    await worker.tasks["short"]
    assert woken_with_free_slot == [True]


async def test_jobs_held_elsewhere_do_not_starve_the_free_slots(redis: TrackedRedis) -> None:
    # The first jobs of the poll all run in other workers; the free slot still gets a job.
    held = [f"held{n}" for n in range(3 * pickup.CLAIM_MARGIN)]
    for job_id in [*held, "free"]:
        await redis.enqueue_job("noop", _job_id=job_id)
    for job_id in held:
        await redis.set(in_progress_key_prefix + job_id, b"1")
    worker = _worker(redis, max_jobs=1)
    await pickup.start_jobs(worker, [job_id.encode() for job_id in [*held, "free"]])
    assert list(worker.tasks) == ["free"]


def _blocking_worker(
    redis: TrackedRedis, *, max_jobs: int, tenant_cap: int, read_limit: int = 100
) -> Worker:
    """A worker whose jobs run until `worker.release` is set."""
    settings = Settings(worker_max_jobs=max_jobs, worker_tenant_max_jobs=tenant_cap)
    worker = _worker(redis, max_jobs=max_jobs)
    worker.queue_read_limit = read_limit
    worker.ctx["settings"] = settings
    release = asyncio.Event()
    worker.release = release  # type: ignore[attr-defined]

    async def run_job(job_id: str, score: int) -> None:
        await release.wait()

    worker.run_job = run_job  # type: ignore[method-assign]
    return worker


async def test_a_tenant_at_its_cap_leaves_the_other_slots_to_other_tenants(
    redis: TrackedRedis,
) -> None:
    queued = [f"a~{n}" for n in range(6)] + ["b~1", "maintenance"]
    for job_id in queued:
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=4, tenant_cap=2)
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued])
    assert list(worker.tasks) == ["a~0", "a~1", "b~1", "maintenance"]
    for waiting in queued[2:6]:  # still queued, untouched: not claimed, no try, no lease
        assert await redis.zscore("arq:queue", waiting) is not None
        assert not await redis.exists(in_progress_key_prefix + waiting)
        assert not await redis.exists(retry_key_prefix + waiting)
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def test_a_capped_tenants_next_job_starts_when_one_of_its_jobs_ends(
    redis: TrackedRedis,
) -> None:
    queued = [f"a~{n}" for n in range(4)]
    for job_id in queued:
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=4, tenant_cap=1)
    worker.ctx["stats"] = WorkerStats()
    wakeup = worker.ctx["wakeup"] = WakeUp()
    woken: list[int] = []
    wakeup.slot_freed = lambda: woken.append(pickup.tenant_slots(worker).running("a"))  # type: ignore[method-assign]
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued])
    assert list(worker.tasks) == ["a~0"]
    assert worker.ctx["stats"].held == 3  # (its heartbeat's, for /metrics)
    worker.release.set()  # type: ignore[attr-defined]
    await worker.tasks["a~0"]
    await asyncio.sleep(0)  # (the done callback)
    assert woken == [0]  # the poll is woken with a's slot free
    await redis.zrem("arq:queue", "a~0")  # (as arq's finish does)
    del worker.tasks["a~0"]
    worker.release.clear()  # type: ignore[attr-defined]
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued[1:]])
    assert list(worker.tasks) == ["a~1"]  # the oldest of a's waiting jobs
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def test_a_poll_of_only_capped_tenants_jobs_sends_redis_nothing(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = [f"a~{n}" for n in range(3)]
    for job_id in queued:
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=4, tenant_cap=1)
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued])
    claims: list[object] = []
    original = claim

    async def counted(*args: Any, **kwargs: Any) -> Any:
        claims.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(pickup, "claim", counted)
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued])
    assert claims == []
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def _poll(worker: Worker, redis: TrackedRedis) -> None:
    """One poll's pick-up, as arq's `_poll_iteration` reads the queue for it."""
    limit = worker.queue_read_limit
    page = await redis.zrangebyscore("arq:queue", "-inf", "+inf", start=0, num=limit)
    await pickup.start_jobs(worker, page)


async def test_a_job_behind_a_capped_tenants_backlog_is_found_past_the_page(
    redis: TrackedRedis,
) -> None:
    queued = [f"a~{n}" for n in range(10)] + ["b~1"]
    for job_id in queued:
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=2, tenant_cap=1, read_limit=2)
    found_after = []
    for _ in range(3):  # pages of 2, two more read a poll: b is at rank 10
        await _poll(worker, redis)
        found_after.append("b~1" in worker.tasks)
    assert found_after == [False, False, True]
    assert list(worker.tasks) == ["a~0", "b~1"]
    assert pickup.tenant_slots(worker).scan_from == 0  # (the end reached: from the page again)
    for waiting in queued[1:10]:
        assert not await redis.exists(in_progress_key_prefix + waiting)
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def test_a_poll_whose_page_holds_every_due_job_reads_no_further(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for job_id in ("a~0", "a~1"):
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=2, tenant_cap=1, read_limit=3)
    reads: list[object] = []
    monkeypatch.setattr(pickup, "due_jobs", lambda *args: reads.append(args))
    await _poll(worker, redis)
    assert (list(worker.tasks), reads) == (["a~0"], [])
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def test_planted_ids_with_an_empty_tenant_are_capped_as_that_tenant(
    redis: TrackedRedis,
) -> None:
    queued = ["~1", "~2", "~3"]  # (ids the API would not make: never the system tenant's)
    for job_id in queued:
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=4, tenant_cap=1)
    await pickup.start_jobs(worker, [job_id.encode() for job_id in queued])
    assert list(worker.tasks) == ["~1"]
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())


async def test_a_poll_whose_claim_fails_leaves_no_held_count_behind(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for job_id in ("a~0", "a~1", "b~0"):
        await redis.enqueue_job("noop", _job_id=job_id)
    worker = _blocking_worker(redis, max_jobs=4, tenant_cap=1)
    await pickup.start_jobs(worker, [b"a~0"])

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise ResponseError("planted")

    monkeypatch.setattr(pickup, "claim", failing)
    with pytest.raises(ResponseError):
        await pickup.start_jobs(worker, [b"a~0", b"a~1", b"b~0"])  # a~1 held, then b's claim fails
    assert not pickup.tenant_slots(worker).holding
    worker.release.set()  # type: ignore[attr-defined]
    await asyncio.gather(*worker.tasks.values())
