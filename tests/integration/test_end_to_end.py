"""The whole flow over real HTTP, a real worker process and a real redis-server."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis

from tests.helpers import eventually
from tests.helpers.api import enqueue, new_id, outcome, wait_for_status
from tests.helpers.services import Stack


async def test_echo_round_trip(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "hello"})
    done = await outcome(api, job["job_id"])
    assert done["status"] == "succeeded"
    assert done["result"] == {"message": "hello"}
    assert done["tries"] == 1
    assert done["enqueue_time"] <= done["start_time"] <= done["finish_time"]


async def test_a_job_logs_its_end_tied_to_its_request(api: httpx.AsyncClient, stack: Stack) -> None:
    request_id = new_id("trace")
    response = await api.post(
        "/v1/jobs",
        json={"function": "echo", "args": {"message": "traced"}},
        headers={"X-Request-ID": request_id},
    )
    assert response.headers["x-request-id"] == request_id
    job_id = response.json()["job_id"]
    await outcome(api, job_id)

    def job_lines() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in stack.worker.log_text().splitlines() if "{" in line]
        return [line for line in lines if line.get("job_id") == job_id]

    lines = await eventually(
        lambda: [x for x in job_lines() if x["event"] == "job.succeeded"] and job_lines()
    )
    events = {line["event"]: line for line in lines}
    assert "job.started" not in events  # a short job logs one line: its end
    finished = events["job.succeeded"]
    assert finished["request_id"] == request_id
    assert (finished["function"], finished["job_try"], finished["outcome"]) == (
        "echo",
        1,
        "succeeded",
    )
    assert finished["duration_ms"] >= 0
    api_lines = [
        json.loads(line) for line in stack.api.log_text().splitlines() if request_id in line
    ]
    assert any(line["event"] == "http.request" and line["status"] == 202 for line in api_lines)


async def test_a_longer_job_also_logs_its_start_while_it_runs(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 0.3})
    job_id = job["job_id"]

    def events() -> list[str]:
        lines = [json.loads(line) for line in stack.worker.log_text().splitlines() if "{" in line]
        return [line["event"] for line in lines if line.get("job_id") == job_id]

    assert await eventually(lambda: "job.started" in events())
    assert "job.succeeded" not in events()  # logged while the job was still running
    await outcome(api, job_id)
    assert await eventually(lambda: events()[-1] == "job.succeeded")


async def test_same_job_id_is_idempotent_and_conflicts_on_different_args(
    api: httpx.AsyncClient,
) -> None:
    job_id = new_id("idem")
    body = {"function": "echo", "args": {"message": "once"}, "job_id": job_id}
    first = await api.post("/v1/jobs", json=body)
    second = await api.post("/v1/jobs", json=body)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["job_id"] == job_id
    done = await outcome(api, job_id)
    assert done["tries"] == 1  # ran once
    after = await api.post("/v1/jobs", json=body)
    assert (after.status_code, after.json()["status"]) == (200, "succeeded")
    clash = await api.post("/v1/jobs", json={**body, "args": {"message": "twice"}})
    assert clash.status_code == 409


async def test_defer_by_is_honoured(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "later"}, defer_by=1.5)
    assert job["status"] == "deferred"
    done = await outcome(api, job["job_id"])
    started = datetime.fromisoformat(done["start_time"])
    assert started >= datetime.fromisoformat(job["enqueue_time"]) + timedelta(seconds=1.5)


async def test_defer_until_is_honoured(api: httpx.AsyncClient) -> None:
    when = datetime.now(UTC) + timedelta(seconds=1.5)
    job = await enqueue(api, "echo", args={"message": "at"}, defer_until=when.isoformat())
    assert job["status"] == "deferred"
    scheduled = datetime.fromisoformat(job["scheduled_for"])
    assert abs(scheduled - when) <= timedelta(milliseconds=1)  # stored in whole milliseconds
    done = await outcome(api, job["job_id"])
    assert datetime.fromisoformat(done["start_time"]) >= when - timedelta(milliseconds=1)


async def test_long_poll_waits_without_blocking_other_requests(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 1})
    waiting = asyncio.create_task(api.get(f"/v1/jobs/{job['job_id']}/result?timeout=10"))
    await wait_for_status(api, job["job_id"], "in_progress")  # (the long-poll is in by now)
    started = time.monotonic()
    health = await api.get("/healthz")
    assert health.status_code == 200
    assert time.monotonic() - started < 0.5
    assert not waiting.done()
    response = await waiting
    assert (response.status_code, response.json()["result"]) == (200, {"slept": 1.0})


async def test_long_poll_returns_202_with_the_current_view_on_timeout(
    api: httpx.AsyncClient,
) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 5})
    started = time.monotonic()
    response = await api.get(f"/v1/jobs/{job['job_id']}/result", params={"timeout": 0.5})
    assert 0.5 <= time.monotonic() - started < 2
    assert response.status_code == 202
    assert response.json()["status"] in {"queued", "in_progress"}
    await api.delete(f"/v1/jobs/{job['job_id']}")


async def test_abort_of_a_running_job(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 60})
    await wait_for_status(api, job["job_id"], "in_progress")
    response = await api.delete(f"/v1/jobs/{job['job_id']}")
    assert response.status_code == 202
    done = await outcome(api, job["job_id"], timeout=5)
    assert done["status"] == "aborted"
    assert done["error"]["type"] == "CancelledError"
    assert datetime.fromisoformat(done["finish_time"]) - datetime.fromisoformat(
        done["start_time"]
    ) < timedelta(seconds=5)
    assert (await api.delete(f"/v1/jobs/{job['job_id']}")).status_code == 409


async def test_abort_of_a_deferred_job_means_it_never_runs(
    api: httpx.AsyncClient, redis_client: redis.Redis
) -> None:
    job = await enqueue(api, "echo", args={"message": "never"}, defer_by=1)
    response = await api.delete(f"/v1/jobs/{job['job_id']}")
    assert (response.status_code, response.json()["status"]) == (202, "aborted")
    # Nothing is left for a worker to pick up: no queue entry, no job data, no try counted.
    assert redis_client.zscore("arq:queue", job["job_id"]) is None
    assert redis_client.exists(f"arq:job:{job['job_id']}", f"arq:retry:{job['job_id']}") == 0
    after = (await api.get(f"/v1/jobs/{job['job_id']}")).json()
    assert (after["status"], after["tries"], after["start_time"]) == ("aborted", 0, None)


async def test_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/jobs/no-such-job")).status_code == 404


async def test_functions_and_probes_answer(api: httpx.AsyncClient) -> None:
    names = [f["name"] for f in (await api.get("/v1/functions")).json()]
    assert names == ["echo", "sleep", "webhook"]
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    assert (await api.get("/readyz")).json() == {"status": "ready"}
