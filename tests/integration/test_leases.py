"""Leases with real workers: a killed worker's job runs again elsewhere within a lease; a live
worker keeps its long job (it renews the lease). Its own Redis, API and workers."""

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome, wait_for_status
from tests.helpers.services import RedisServer, ServiceProcess, service_env, start_api, start_worker
from tests.helpers.sse import read_sse

LEASE_S = 2.0


@pytest.fixture(scope="module")
def leased(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, str, Path]]:
    workdir = tmp_path_factory.mktemp("leases")
    server = RedisServer(workdir / "redis")
    server.start()
    api, url = start_api(env(server), workdir, name="lease-api")
    yield server, url, workdir
    api.stop()
    server.stop()


def env(server: RedisServer) -> dict[str, str]:
    return {**service_env(server.url), "JOBQUEUE_WORKER_LEASE": str(LEASE_S)}


@pytest.fixture
async def api(leased: tuple[RedisServer, str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=leased[1], timeout=30, trust_env=False) as client:
        yield client


async def started_tries(api: httpx.AsyncClient, job_id: str) -> list[int]:
    tries: list[int] = []
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        async for event in read_sse(response):
            if event.type == "started":
                tries.append(event.data["try"])
    return tries


async def test_a_killed_workers_job_runs_again_elsewhere_within_a_lease(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    doomed = start_worker(env(server), workdir, name="doomed-worker")
    survivor: ServiceProcess | None = None
    try:
        job = await enqueue(api, "sleep", args={"seconds": 4})
        await wait_for_status(api, job["job_id"], "in_progress")
        survivor = start_worker(env(server), workdir, name="surviving-worker")
        os.kill(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()

        async def tried_again() -> bool:
            view = (await api.get(f"/v1/jobs/{job['job_id']}")).json()
            return bool(view["tries"] == 2 and view["status"] == "in_progress")

        await eventually(tried_again, timeout=LEASE_S + 5, what="a second try elsewhere")
        assert time.monotonic() - killed_at <= LEASE_S + 2  # a lease, then one poll
        done = await outcome(api, job["job_id"], timeout=15)
        assert (done["status"], done["tries"]) == ("succeeded", 2)
    finally:
        doomed.stop()
        if survivor is not None:
            survivor.stop()


async def test_a_live_worker_keeps_a_job_longer_than_its_lease(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    workers = [start_worker(env(server), workdir, name=f"keeper-{n}") for n in range(2)]
    try:
        job = await enqueue(api, "sleep", args={"seconds": 3 * LEASE_S})
        done = await outcome(api, job["job_id"], timeout=20)
        assert (done["status"], done["tries"]) == ("succeeded", 1)  # renewed: never taken over
        assert await started_tries(api, job["job_id"]) == [1]
    finally:
        for worker in workers:
            worker.stop()
