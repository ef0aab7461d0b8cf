"""One tenant's backlog leaves room for the others: a real worker (4 slots, at most 2 jobs of one
tenant) against its own redis-server, jobs enqueued through the service's own queue under the
ids the API stores a tenant's jobs by (`<tenant>~<job id>`), and over HTTP with two tenants'
keys."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from jobqueue.access import tokens
from jobqueue.access.cli import entry
from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope
from jobqueue.history.view import JobView
from jobqueue.history.vocabulary import JobStatus
from jobqueue.ops.workers import list_workers
from jobqueue.queue import EnqueueOptions, JobQueue
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from tests.helpers import eventually
from tests.helpers.services import (
    RedisServer,
    ServiceProcess,
    connect,
    service_env,
    start_api,
    start_worker,
)

CAP = 2


@dataclass
class Capped:
    redis: RedisServer
    worker: ServiceProcess
    api_url: str
    tokens: dict[str, str]  # each tenant's key


def key_entry(tenant: str) -> tuple[str, str]:
    """A new key of `tenant` that may enqueue and read jobs: its token and its keys-file entry."""
    token = tokens.mint()
    scopes = frozenset({Scope.jobs_read, Scope.jobs_write})
    return token, entry(ApiKey(name=tenant, hash=tokens.hash_of(token), scopes=scopes))


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capped]:
    workdir = tmp_path_factory.mktemp("tenant-cap")
    server = RedisServer(workdir / "redis")
    server.start()
    env = {
        **service_env(server.url),
        "JOBQUEUE_WORKER_MAX_JOBS": "4",
        "JOBQUEUE_WORKER_TENANT_MAX_JOBS": str(CAP),
    }
    keys = {tenant: key_entry(tenant) for tenant in ("alpha", "beta")}
    keys_file = workdir / "keys.toml"
    keys_file.write_text("\n\n".join(text for _, text in keys.values()) + "\n")
    api_env = {**env, "JOBQUEUE_AUTH": "on", "JOBQUEUE_API_KEYS_FILE": str(keys_file)}
    started: list[ServiceProcess] = []
    try:
        started.append(worker := start_worker(env, workdir))
        api, url = start_api(api_env, workdir)
        started.append(api)
        yield Capped(server, worker, url, {tenant: token for tenant, (token, _) in keys.items()})
    finally:
        for process in reversed(started):
            process.stop()
        server.stop()


@pytest.fixture
async def pool(capped: Capped) -> AsyncIterator[TrackedRedis]:
    client = connect(capped.redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def queue(pool: TrackedRedis, capped: Capped) -> JobQueue:
    return JobQueue(pool, Settings(redis_url=capped.redis.url))


async def enqueue(queue: JobQueue, job_id: str, function: str, args: dict[str, object]) -> None:
    await queue.enqueue(function, args, EnqueueOptions(job_id=job_id))


async def views(queue: JobQueue, job_ids: list[str]) -> list[JobView]:
    return [await queue.get(job_id) for job_id in job_ids]


def in_progress(jobs: list[JobView]) -> int:
    return sum(job.status == JobStatus.in_progress for job in jobs)


async def test_a_tenant_at_its_cap_leaves_another_tenants_job_to_run(
    queue: JobQueue, pool: TrackedRedis, capped: Capped
) -> None:
    sleeps = [f"a~s{n}" for n in range(10)]
    for job_id in sleeps:
        await enqueue(queue, job_id, "sleep", {"seconds": 60})

    async def a_at_cap() -> bool:
        running = in_progress(await views(queue, sleeps))
        assert running <= CAP, f"tenant a runs {running} jobs"
        return running == CAP

    await eventually(a_at_cap, what="a's first jobs to start")
    await enqueue(queue, "b~e1", "echo", {"message": "hi"})

    async def echo_done() -> JobView | None:
        assert in_progress(await views(queue, sleeps)) <= CAP
        [echo] = await views(queue, ["b~e1"])
        return echo if echo.status == JobStatus.succeeded else None

    echo = await eventually(echo_done, timeout=3, what="b's echo to run beside a's sleeps")
    assert echo.result == {"message": "hi"}
    waiting = [job for job in await views(queue, sleeps) if job.status == JobStatus.queued]
    assert len(waiting) == len(sleeps) - CAP
    assert all(job.tries == 0 for job in waiting)  # held back untouched: no try counted

    async def held_in_heartbeat() -> bool:  # (what /metrics reads)
        workers = await list_workers(pool, Settings(redis_url=capped.redis.url))
        return [worker.held for worker in workers] == [len(waiting)]

    await eventually(held_in_heartbeat, what="the worker's heartbeat to count a's held jobs")
    held = [line for line in capped.worker.log_text().splitlines() if "tenant_at_cap" in line]
    assert [json.loads(line)["tenant"] for line in held] == ["a"]  # once, not every poll
    for job_id in sleeps:  # (frees the worker for the next test)
        await queue.abort(job_id)


async def test_a_job_behind_more_of_a_capped_tenants_jobs_than_a_poll_reads_still_runs(
    queue: JobQueue,
) -> None:
    # arq reads 100 due jobs a poll here (max(5 x max_jobs, 100)): e's 120 come first
    backlog = [f"e~s{n}" for n in range(120)]
    options = [("sleep", {"seconds": 60}, EnqueueOptions(job_id=job_id)) for job_id in backlog]
    await queue.enqueue_batch(options)
    await enqueue(queue, "f~e1", "echo", {"message": "behind"})

    async def echo_done() -> bool:
        [echo] = await views(queue, ["f~e1"])
        return echo.status == JobStatus.succeeded

    await eventually(echo_done, timeout=3, what="f's echo to run behind e's backlog")
    assert in_progress(await views(queue, backlog)) == CAP
    for job_id in backlog:
        await queue.abort(job_id)


async def test_a_capped_tenants_jobs_all_run_never_more_than_the_cap_at_once(
    queue: JobQueue,
) -> None:
    naps = [f"c~n{n}" for n in range(8)]
    for job_id in naps:
        await enqueue(queue, job_id, "sleep", {"seconds": 0.2})

    async def all_done() -> list[JobView] | None:
        jobs = await views(queue, naps)
        assert in_progress(jobs) <= CAP
        return jobs if all(job.status == JobStatus.succeeded for job in jobs) else None

    jobs = await eventually(all_done, timeout=5, what="c's jobs to run in turn")
    runs = [(job.start_time, job.finish_time) for job in jobs]
    assert all(start is not None and finish is not None for start, finish in runs)
    for start, _ in runs:  # from the recorded runs: at most CAP overlap at each start
        assert sum(s <= start < f for s, f in runs) <= CAP  # type: ignore[operator]


async def test_polls_offering_only_a_capped_tenants_jobs_stay_at_the_idle_rate(
    queue: JobQueue, capped: Capped
) -> None:
    sleeps = [f"d~s{n}" for n in range(6)]
    for job_id in sleeps:
        await enqueue(queue, job_id, "sleep", {"seconds": 60})

    async def d_at_cap() -> bool:
        return in_progress(await views(queue, sleeps)) == CAP

    await eventually(d_at_cap, what="d's first jobs to start")
    with capped.redis.client() as admin:
        before, started = polls(admin), time.monotonic()
        await asyncio.sleep(1.0)  # (a measured window: the rate of polls over it)
        rate = (polls(admin) - before) / (time.monotonic() - started)
    # the worker's poll delay (service_env: 0.05 s) bounds its polls while nothing wakes it
    assert rate <= 1.5 / 0.05, f"{rate:.0f} polls a second"
    for job_id in sleeps:
        await queue.abort(job_id)


def polls(admin: redis.Redis) -> int:
    """Queue reads so far: one per poll of a worker with a free slot."""
    stats: dict[str, dict[str, int]] = admin.info("commandstats")  # type: ignore[assignment]
    return stats.get("cmdstat_zrangebyscore", {}).get("calls", 0)


async def test_over_http_one_tenants_sleeps_leave_another_tenants_echo_to_run(
    capped: Capped,
) -> None:
    def client(tenant: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {capped.tokens[tenant]}"}
        return httpx.AsyncClient(base_url=capped.api_url, headers=headers, trust_env=False)

    sleeps = [f"s{n}" for n in range(10)]
    async with client("alpha") as alpha, client("beta") as beta:
        for job_id in sleeps:
            job = {"function": "sleep", "args": {"seconds": 60}, "job_id": job_id}
            assert (await alpha.post("/v1/jobs", json=job)).status_code == 202

        async def alpha_running() -> int:
            jobs = [(await alpha.get(f"/v1/jobs/{job_id}")).json() for job_id in sleeps]
            running = sum(1 for job in jobs if job["status"] == "in_progress")
            assert running <= CAP, f"alpha runs {running} jobs"
            return running

        async def alpha_at_cap() -> bool:
            return await alpha_running() == CAP

        await eventually(alpha_at_cap, what="alpha's first sleeps to start")
        echo = {"function": "echo", "args": {"message": "hi"}, "job_id": "e1"}
        assert (await beta.post("/v1/jobs", json=echo)).status_code == 202
        done = await beta.get("/v1/jobs/e1/result", params={"timeout": 3})
        assert (done.status_code, done.json()["status"]) == (200, "succeeded")
        assert await alpha_running() == CAP
        for job_id in sleeps:
            await alpha.delete(f"/v1/jobs/{job_id}")
