"""Redis full (`maxmemory` under `noeviction`) is a state the service knows: new work is refused
with a 503 naming the cause, reads go on, no route answers 500, `/readyz` says so, and a worker
rides it out, writing what it could not once there is room again. Its own stack."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import redis

from jobqueue.store.capacity import config_risks
from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome, wait_for_status
from tests.helpers.services import (
    RedisServer,
    Stack,
    connect,
    service_env,
    start_api,
    start_worker,
)

JUNK = "junk:"


@pytest.fixture(scope="module")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("full")
    server = RedisServer(workdir / "redis")
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, workdir, name="full-worker")
    api, url = start_api(env, workdir, name="full-api")
    yield Stack(server, worker, api, url)
    api.stop()
    worker.stop()
    server.stop()


@pytest.fixture
async def api(full_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=full_stack.api_url, timeout=30, trust_env=False) as c:
        yield c


@pytest.fixture
def admin(full_stack: Stack) -> Iterator[redis.Redis]:
    with full_stack.redis.client() as client:
        client.config_set("maxmemory-policy", "noeviction")
        yield client
        make_room(client)
        client.config_set("maxmemory-policy", "noeviction")


def fill(client: redis.Redis) -> None:
    """Redis past its limit (every write refused until there is room): a megabyte of junk, then
    a limit below what it holds, as after a write that took it over or a lowered limit."""
    client.mset({f"{JUNK}{n}": "x" * 16384 for n in range(64)})
    memory: dict[str, int] = client.info("memory")  # type: ignore[assignment]
    used = memory["used_memory"]
    client.config_set("maxmemory", used - 256 * 1024)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set(f"{JUNK}probe", "x")


def make_room(client: redis.Redis) -> None:
    junk = list(client.scan_iter(f"{JUNK}*", count=1000))
    if junk:
        client.delete(*junk)
    client.config_set("maxmemory", 0)


def recent_500s(stack: Stack) -> list[str]:
    return [line for line in stack.api.log_text().splitlines() if '"status":500' in line]


async def test_enqueues_are_refused_with_503_naming_the_cause_and_leave_nothing(
    api: httpx.AsyncClient, admin: redis.Redis
) -> None:
    fill(admin)
    queued_before = admin.zcard("arq:queue")
    response = await api.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "x"}, "job_id": "full-1"}
    )
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "out of memory" in response.json()["detail"]
    assert admin.zcard("arq:queue") == queued_before
    assert admin.exists("arq:job:full-1", "jobqueue:record:full-1") == 0
    item = {"function": "echo", "args": {"message": "x"}}
    batch = await api.post("/v1/jobs/batch", json={"jobs": [item]})
    assert batch.status_code == 503


async def test_readyz_says_redis_is_full_while_reads_go_on(
    api: httpx.AsyncClient, admin: redis.Redis, full_stack: Stack
) -> None:
    job = await enqueue(api, "echo", args={"message": "before"})
    await outcome(api, job["job_id"])
    fill(admin)
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert "out of memory" in ready.json()["detail"]
    for path in (f"/v1/jobs/{job['job_id']}", "/v1/jobs", "/v1/queues", "/v1/workers", "/metrics"):
        assert (await api.get(path)).status_code == 200, path
    assert (await api.delete(f"/v1/jobs/{job['job_id']}")).status_code == 409  # finished
    make_room(admin)
    assert (await api.get("/readyz")).status_code == 200
    assert not recent_500s(full_stack)


async def test_writes_refused_while_full_are_503_never_500(
    api: httpx.AsyncClient, admin: redis.Redis, full_stack: Stack
) -> None:
    deferred = await enqueue(api, "echo", args={"message": "later"}, defer_by=3600)
    refused = {"url": "http://localhost/hook", "payload": {}}  # refused after DNS: fails at once
    failed = await outcome(api, (await enqueue(api, "webhook", args=refused))["job_id"])
    assert failed["status"] == "failed"
    fill(admin)
    assert (await api.delete(f"/v1/jobs/{deferred['job_id']}")).status_code == 503
    assert (await api.post("/v1/cron/cron:sweep/run")).status_code == 503
    assert (await api.post(f"/v1/jobs/{failed['job_id']}/retry")).status_code == 503
    assert (await api.post("/v1/jobs/retry", json={"function": "webhook"})).status_code == 503
    make_room(admin)
    assert (await api.delete(f"/v1/jobs/{deferred['job_id']}")).status_code == 202
    assert not recent_500s(full_stack)


async def test_a_worker_rides_out_a_full_redis_and_records_the_end_once_there_is_room(
    api: httpx.AsyncClient, admin: redis.Redis, full_stack: Stack
) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 1})
    await wait_for_status(api, job["job_id"], "in_progress")
    fill(admin)  # its end comes while Redis is full: the result write is refused
    await eventually(
        lambda: (
            "OutOfMemoryError" in full_stack.worker.log_text()
            or '"redis.retrying"' in full_stack.worker.log_text()
        ),
        what="the worker to meet the full Redis",
    )
    make_room(admin)
    done = await outcome(api, job["job_id"], timeout=20)
    assert (done["status"], done["result"]) == ("succeeded", {"slept": 1.0})
    assert full_stack.worker.is_running()


async def test_both_processes_warn_at_start_up_of_a_redis_that_can_lose_jobs(
    full_stack: Stack,
) -> None:
    """The test Redis runs without persistence, as a cache would."""
    for process in (full_stack.api, full_stack.worker):
        risky = [line for line in process.log_text().splitlines() if "redis.config_risky" in line]
        assert any("persistence is off" in line for line in risky), process.name


async def test_an_evicting_policy_is_named_a_risk(admin: redis.Redis, full_stack: Stack) -> None:
    admin.config_set("maxmemory-policy", "allkeys-lru")
    client = connect(full_stack.redis.url)
    try:
        risks = await config_risks(client)
    finally:
        await client.aclose()
    assert any("maxmemory-policy is allkeys-lru" in risk for risk in risks)
