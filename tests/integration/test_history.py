"""The job index and event log are complete for every way a job can go, against real processes,
including the paths where arq itself fires no hook."""

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import redis

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome, wait_for_status
from tests.helpers.sse import read_sse
from tests.helpers.webhook_target import WebhookTarget


async def event_types(api: httpx.AsyncClient, job_id: str) -> list[str]:
    """The job's whole event stream, read over SSE (it closes after the terminal event)."""
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        return [event.type async for event in read_sse(response)]


async def listed(api: httpx.AsyncClient, job_id: str, **filters: str) -> bool:
    page = (await api.get("/v1/jobs", params={"limit": 50, **filters})).json()
    return job_id in [job["job_id"] for job in page["jobs"]]


async def test_success_is_recorded_and_indexed(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "x"})
    await outcome(api, job["job_id"])
    assert await event_types(api, job["job_id"]) == ["enqueued", "started", "succeeded"]
    assert await listed(api, job["job_id"], status="succeeded", function="echo")
    assert not await listed(api, job["job_id"], status="queued")


async def test_retries_are_recorded(api: httpx.AsyncClient, webhook_target: WebhookTarget) -> None:
    name = f"hist-{uuid.uuid4().hex[:8]}"
    webhook_target.script(name, [503, 200])
    job = await enqueue(api, "webhook", args={"url": webhook_target.url(name), "payload": {}})
    await outcome(api, job["job_id"])
    assert await event_types(api, job["job_id"]) == [
        "enqueued",
        "started",
        "retry_scheduled",
        "started",
        "succeeded",
    ]


async def test_tries_exhausted_before_running_is_recorded(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    # arq fails this at pick-up ("max 3 retries exceeded") without calling any hook (its tries
    # used up, e.g. by runs cancelled outside the service): no start is recorded either.
    job = await enqueue(api, "echo", args={"message": "too late"}, defer_by=0.5)
    redis_client.set(f"arq:retry:{job['job_id']}", 9)
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["error"]["type"]) == ("failed", "JobExecutionFailed")
    assert "retries exceeded" in done["error"]["message"]
    assert await event_types(api, job["job_id"]) == ["enqueued", "failed"]
    assert await listed(api, job["job_id"], status="failed", function="echo")


async def test_expired_job_is_recorded(api: httpx.AsyncClient, redis_client: redis.Redis) -> None:
    # (The API refuses an `expires` shorter than the deferral, so the data's expiry is shortened
    # in Redis: as a job waiting past its `expires` behind busy workers would be.)
    job = await enqueue(api, "echo", args={"message": "x"}, defer_by=1.5, expires=2)
    redis_client.pexpire(f"arq:job:{job['job_id']}", 300)
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["function"]) == ("failed", "echo")
    assert await event_types(api, job["job_id"]) == ["enqueued", "expired"]
    assert await listed(api, job["job_id"], status="failed")


async def test_abort_before_start_by_arq_is_recorded(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    job = await enqueue(api, "echo", args={"message": "x"}, defer_by=0.5)
    redis_client.zadd("arq:abort", {job["job_id"]: time.time() * 1000})  # arq's Job.abort()
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["tries"]) == ("aborted", 1)
    assert await event_types(api, job["job_id"]) == ["enqueued", "aborted"]
    assert await listed(api, job["job_id"], status="aborted", function="echo")


async def test_abort_of_a_queued_and_of_a_running_job_are_recorded(
    api: httpx.AsyncClient,
) -> None:
    waiting = await enqueue(api, "echo", args={"message": "x"}, defer_by=60)
    await api.delete(f"/v1/jobs/{waiting['job_id']}")
    assert await event_types(api, waiting["job_id"]) == ["enqueued", "aborted"]
    running = await enqueue(api, "sleep", args={"seconds": 30})
    await wait_for_status(api, running["job_id"], "in_progress")
    await api.delete(f"/v1/jobs/{running['job_id']}")
    types = await event_types(api, running["job_id"])
    assert types[:2] == ["enqueued", "started"]
    assert types[-1] == "aborted"


async def test_progress_is_visible_mid_run(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 2.5})

    async def with_progress() -> dict[str, Any] | None:
        view: dict[str, Any] = (await api.get(f"/v1/jobs/{job['job_id']}")).json()
        return view if view["progress"] is not None else None

    view = await eventually(with_progress, what="progress in the job's view")
    assert view["status"] == "in_progress"
    assert view["start_time"] is not None
    assert view["progress"]["total"] == 2.5
    assert 0 < view["progress"]["current"] < 2.5
    done = await outcome(api, job["job_id"])
    assert done["progress"]["current"] >= 2


async def test_history_outlives_arqs_result(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    job = await enqueue(api, "echo", args={"message": "kept"})
    await outcome(api, job["job_id"])
    redis_client.delete(f"arq:result:{job['job_id']}")  # what arq's result TTL does
    view = (await api.get(f"/v1/jobs/{job['job_id']}")).json()
    assert (view["status"], view["result"], view["tries"]) == ("succeeded", None, 1)
    assert view["start_time"] is not None
    assert view["finish_time"] is not None


async def test_pages_stay_stable_while_jobs_are_added(api: httpx.AsyncClient) -> None:
    tag = f"page-{uuid.uuid4().hex[:6]}"
    ids = [
        (await enqueue(api, "echo", args={"message": tag}, defer_by=600))["job_id"]
        for _ in range(12)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"function": "echo", "status": "deferred", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/jobs", params=params)).json()
        seen += [j["job_id"] for j in page["jobs"] if j["args"] == {"message": tag}]
        await enqueue(api, "echo", args={"message": tag}, defer_by=600)  # newer: before page 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    for job_id in ids:
        await api.delete(f"/v1/jobs/{job_id}")


async def test_single_and_bulk_retry(api: httpx.AsyncClient, webhook_target: WebhookTarget) -> None:
    since = datetime.now(UTC).isoformat()
    names = [f"retry-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    jobs = []
    for name in names:
        webhook_target.script(name, [404, 200])  # fails once, then the re-run succeeds
        job = await enqueue(api, "webhook", args={"url": webhook_target.url(name), "payload": {}})
        jobs.append(job)
        assert (await outcome(api, job["job_id"]))["status"] == "failed"

    single = await api.post(f"/v1/jobs/{jobs[0]['job_id']}/retry")
    assert single.status_code == 202
    rerun = await outcome(api, single.json()["job_id"])
    assert (rerun["status"], rerun["retry_of"]) == ("succeeded", jobs[0]["job_id"])

    bulk = await api.post("/v1/jobs/retry", json={"function": "webhook", "since": since})
    assert bulk.json()["retried"] == 2
    assert bulk.json()["already_retried"] == 1
    for new_id in bulk.json()["job_ids"]:
        assert (await outcome(api, new_id))["status"] == "succeeded"
    again = await api.post("/v1/jobs/retry", json={"function": "webhook", "since": since})
    assert again.json()["retried"] == 0
