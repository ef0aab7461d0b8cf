"""Leases with real workers: a killed worker's job runs again elsewhere as soon as the worker
is gone (a live worker releases its leases), or within a lease; a live worker keeps its long
job (it renews the lease); a job whose runs keep dying fails past the stall limit. Its own
Redis, API and workers."""

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome, wait_for_status
from tests.helpers.services import RedisServer, ServiceProcess, service_env, start_api, start_worker
from tests.helpers.sse import read_sse

SHORT_LEASE_S = 2.0
LONG_LEASE_S = 60.0  # (longer than any of these tests: only a release can explain a recovery)
GONE_AFTER_S = 2.0  # service_env's JOBQUEUE_WORKER_LIVENESS_WINDOW


@pytest.fixture(scope="module")
def leased(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, str, Path]]:
    workdir = tmp_path_factory.mktemp("leases")
    server = RedisServer(workdir / "redis")
    server.start()
    api, url = start_api(service_env(server.url), workdir, name="lease-api")
    yield server, url, workdir
    api.stop()
    server.stop()


def env(server: RedisServer, lease_s: float, **more: str) -> dict[str, str]:
    return {**service_env(server.url), "JOBQUEUE_WORKER_LEASE": str(lease_s), **more}


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


async def run_again(api: httpx.AsyncClient, job_id: str, stalls: int, timeout: float) -> None:
    """Wait until the job runs again after its `stalls`-th stall."""

    async def running_again() -> bool:
        view = (await api.get(f"/v1/jobs/{job_id}")).json()
        return bool(view["stalls"] == stalls and view["status"] == "in_progress")

    await eventually(running_again, timeout=timeout, what=f"run {stalls + 1} of {job_id}")


async def listed_in_progress(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    page = (await api.get("/v1/jobs", params={"status": "in_progress"})).json()
    [listed] = [job for job in page["jobs"] if job["job_id"] == job_id]
    return dict(listed)


async def test_a_killed_workers_job_runs_again_as_soon_as_the_worker_is_gone(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    doomed = start_worker(env(server, LONG_LEASE_S), workdir, name="doomed-worker")
    survivor: ServiceProcess | None = None
    try:
        job = await enqueue(api, "sleep", args={"seconds": 5})
        await wait_for_status(api, job["job_id"], "in_progress")
        # Shown in progress, with its try, from the claim on (listings read the record alone):
        listed = await listed_in_progress(api, job["job_id"])
        assert (listed["tries"], listed["stalls"], listed["start_time"] is not None) == (1, 0, True)
        survivor = start_worker(env(server, LONG_LEASE_S), workdir, name="surviving-worker")
        os.kill(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        await run_again(api, job["job_id"], stalls=1, timeout=GONE_AFTER_S + 8)
        # gone after GONE_AFTER_S, then a release tick and a poll: not the 60 s lease
        assert time.monotonic() - killed_at < GONE_AFTER_S + 4
        assert "worker.lease_released" in survivor.log_text()
        done = await outcome(api, job["job_id"], timeout=15)
        # A stall is not a try: the run that never ended gave its try back.
        assert (done["status"], done["tries"], done["stalls"]) == ("succeeded", 1, 1)
        assert await started_tries(api, job["job_id"]) == [1, 1]
    finally:
        doomed.stop()
        if survivor is not None:
            survivor.stop()


async def test_a_killed_workers_job_runs_again_within_a_lease_without_other_workers(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    doomed = start_worker(env(server, SHORT_LEASE_S), workdir, name="lone-worker")
    successor: ServiceProcess | None = None
    try:
        job = await enqueue(api, "sleep", args={"seconds": 3})
        await wait_for_status(api, job["job_id"], "in_progress")
        os.kill(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        # A worker started now judges no one gone for its first GONE_AFTER_S: the lease frees
        # the job first.
        successor = start_worker(env(server, SHORT_LEASE_S), workdir, name="successor")
        await run_again(api, job["job_id"], stalls=1, timeout=SHORT_LEASE_S + 5)
        assert time.monotonic() - killed_at <= SHORT_LEASE_S + 2  # a lease, then one poll
        done = await outcome(api, job["job_id"], timeout=15)
        assert (done["status"], done["tries"], done["stalls"]) == ("succeeded", 1, 1)
    finally:
        doomed.stop()
        if successor is not None:
            successor.stop()


async def test_a_live_worker_keeps_a_job_longer_than_its_lease(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    workers = [
        start_worker(env(server, SHORT_LEASE_S), workdir, name=f"keeper-{n}") for n in range(2)
    ]
    try:
        job = await enqueue(api, "sleep", args={"seconds": 3 * SHORT_LEASE_S})
        done = await outcome(api, job["job_id"], timeout=20)
        # renewed: never taken over, never released
        assert (done["status"], done["tries"], done["stalls"]) == ("succeeded", 1, 0)
        assert await started_tries(api, job["job_id"]) == [1]
    finally:
        for worker in workers:
            worker.stop()


def stalls_metric(text: str, function: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "jobqueue_job_stalls":
            for sample in family.samples:
                if sample.labels == {"function": function}:
                    return sample.value
    return 0.0


async def test_a_job_whose_runs_keep_killing_their_worker_fails_past_the_stall_limit(
    api: httpx.AsyncClient, leased: tuple[RedisServer, str, Path]
) -> None:
    server, _, workdir = leased
    limited = env(server, LONG_LEASE_S, JOBQUEUE_WORKER_STALL_LIMIT="1")
    stalls_before = stalls_metric((await api.get("/metrics")).text, "sleep")
    job = await enqueue(api, "sleep", args={"seconds": 30})
    for stalls in (0, 1):  # two runs die with their worker (the next worker releases the job)
        victim = start_worker(limited, workdir, name=f"victim-{stalls}")
        try:
            await run_again(api, job["job_id"], stalls=stalls, timeout=GONE_AFTER_S + 8)
            os.kill(victim.pid, signal.SIGKILL)
        finally:
            victim.stop()
    last = start_worker(limited, workdir, name="last-worker")
    try:
        done = await outcome(api, job["job_id"], timeout=GONE_AFTER_S + 10)
        assert (done["status"], done["stalls"], done["tries"]) == ("failed", 2, 1)
        assert done["error"]["type"] == "JobStalled"
        assert "JOBQUEUE_WORKER_STALL_LIMIT" in done["error"]["message"]
        metrics = (await api.get("/metrics")).text
        assert stalls_metric(metrics, "sleep") == stalls_before + 2
    finally:
        last.stop()
