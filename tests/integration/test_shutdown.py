"""Deploys that cost nothing, with real worker processes: on SIGTERM a worker claims nothing
new, lets running jobs finish within the grace, puts the rest back without counting their try,
and exits 0, also while Redis is down. Its own Redis and API."""

import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome, wait_for_status
from tests.helpers.services import (
    RedisServer,
    ServiceProcess,
    service_env,
    start_api,
    start_worker,
)
from tests.helpers.sse import read_sse


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[tuple[RedisServer, str, Path]]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    api, url = start_api(service_env(server.url), tmp_path, name="deploy-api")
    yield server, url, tmp_path
    api.stop()
    server.stop()


@pytest.fixture
async def api(deploy: tuple[RedisServer, str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=deploy[1], timeout=30, trust_env=False) as client:
        yield client


def worker(deploy: tuple[RedisServer, str, Path], name: str, grace_s: float) -> ServiceProcess:
    server, _, workdir = deploy
    env = {**service_env(server.url), "JOBQUEUE_WORKER_SHUTDOWN_GRACE": str(grace_s)}
    return start_worker(env, workdir, name=name)


def stop(process: ServiceProcess, within_s: float) -> tuple[int, float]:
    """SIGTERM, as a deploy sends it; the exit code and how long the process took."""
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    try:
        code = process.process.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        process.process.kill()
        raise AssertionError(f"{process.name} still running {within_s} s after SIGTERM") from None
    finally:
        process.stop()  # (it has exited: this closes its log)
    return code, time.monotonic() - started


async def event_types(api: httpx.AsyncClient, job_id: str) -> list[str]:
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        return [event.type async for event in read_sse(response)]


async def test_a_job_shorter_than_the_grace_finishes_then_the_worker_exits_0(
    api: httpx.AsyncClient, deploy: tuple[RedisServer, str, Path]
) -> None:
    leaving = worker(deploy, "leaving", grace_s=10)
    job = await enqueue(api, "sleep", args={"seconds": 1.5})
    await wait_for_status(api, job["job_id"], "in_progress")
    code, took = stop(leaving, within_s=10)
    assert code == 0
    assert took < 5  # it waited for the job, not for the whole grace
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["tries"]) == ("succeeded", 1)
    log = leaving.log_text()
    assert '"worker.stopping"' in log
    assert '"worker.stopped"' in log  # on_shutdown ran


async def test_a_job_longer_than_the_grace_goes_back_without_its_try_counted(
    api: httpx.AsyncClient, deploy: tuple[RedisServer, str, Path]
) -> None:
    leaving = worker(deploy, "leaving", grace_s=0.5)
    job = await enqueue(api, "sleep", args={"seconds": 4})
    await wait_for_status(api, job["job_id"], "in_progress")
    code, _ = stop(leaving, within_s=10)
    assert code == 0
    back = (await api.get(f"/v1/jobs/{job['job_id']}")).json()
    assert (back["status"], back["tries"]) == ("queued", 0)
    arriving = worker(deploy, "arriving", grace_s=10)
    try:
        done = await outcome(api, job["job_id"], timeout=20)
    finally:
        arriving.stop()
    assert (done["status"], done["tries"]) == ("succeeded", 1)  # no try burnt by the deploy
    types = await event_types(api, job["job_id"])
    assert types == [
        "enqueued",
        "started",
        "interrupted",
        "started",
        "progress",
        "progress",
        "progress",
        "succeeded",
    ]


async def test_a_worker_told_to_stop_while_redis_is_down_still_exits_0(
    api: httpx.AsyncClient, deploy: tuple[RedisServer, str, Path]
) -> None:
    server = deploy[0]
    leaving = worker(deploy, "stranded", grace_s=0.5)
    job = await enqueue(api, "sleep", args={"seconds": 30})
    await wait_for_status(api, job["job_id"], "in_progress")
    server.stop()
    await eventually(
        lambda: '"redis.retrying"' in leaving.log_text() or '"worker.' in leaving.log_text(),
        what="the worker to run on without Redis",
    )
    code, took = stop(leaving, within_s=20)
    server.start()  # (for the fixture's clean-up)
    assert code == 0
    assert took <= 0.5 + 8 + 3  # the grace, then at worst the hard-exit backstop
