"""Live views over real HTTP: SSE streams, cron, queues, workers and metrics."""

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome
from tests.helpers.services import Stack, service_env, start_worker
from tests.helpers.sse import SseEvent, read_sse


async def test_job_sse_streams_live_events_then_closes(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "sleep", args={"seconds": 1.5})
    received: list[SseEvent] = []
    async with api.stream("GET", f"/v1/jobs/{job['job_id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in read_sse(response):
            received.append(event)
    types = [e.type for e in received]
    assert types[:2] == ["enqueued", "started"]
    assert "progress" in types
    assert types[-1] == "succeeded"
    assert all(e.data["job_id"] == job["job_id"] for e in received)
    progress = next(e for e in received if e.type == "progress")
    assert progress.data["progress"]["total"] == 1.5


async def test_job_sse_resumes_after_last_event_id(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "resume"})
    await outcome(api, job["job_id"])
    async with api.stream("GET", f"/v1/jobs/{job['job_id']}/events") as response:
        first = [e async for e in read_sse(response)]
    headers = {"Last-Event-ID": first[0].id}
    async with api.stream("GET", f"/v1/jobs/{job['job_id']}/events", headers=headers) as response:
        rest = [e async for e in read_sse(response)]
    assert [e.id for e in rest] == [e.id for e in first[1:]]


async def next_event_of(events: "asyncio.Queue[SseEvent]", job_id: str, kind: str) -> SseEvent:
    while True:
        event = await asyncio.wait_for(events.get(), timeout=10)
        if event.data["job_id"] == job_id and event.type == kind:
            return event


async def test_global_feed_is_live_and_resumes_with_last_event_id(
    api: httpx.AsyncClient,
) -> None:
    events: asyncio.Queue[SseEvent] = asyncio.Queue()

    async def listen(headers: dict[str, str]) -> None:
        async with api.stream("GET", "/v1/events", headers=headers) as response:
            async for event in read_sse(response):
                await events.put(event)

    listener = asyncio.create_task(listen({}))
    # The every-second cron job's events prove the subscription is live before we enqueue.
    await asyncio.wait_for(events.get(), timeout=10)
    job = await enqueue(api, "echo", args={"message": "feed"})
    started = await next_event_of(events, job["job_id"], "started")
    await next_event_of(events, job["job_id"], "succeeded")
    listener.cancel()

    events = asyncio.Queue()
    listener = asyncio.create_task(listen({"Last-Event-ID": started.id}))
    replayed = await next_event_of(events, job["job_id"], "succeeded")
    listener.cancel()
    assert replayed.id > started.id


async def test_cron_listing_and_run_now(api: httpx.AsyncClient) -> None:
    crons = {c["name"]: c for c in (await api.get("/v1/cron")).json()}
    stats = crons["cron:queue_stats"]  # every second in the test stack
    now = datetime.now(UTC)
    next_run = datetime.fromisoformat(stats["next_run"])
    assert now < next_run <= now + timedelta(seconds=1.2)
    assert stats["schedule"] == "Every second"
    assert stats["last_run"]["status"] in {"succeeded", "in_progress"}

    response = await api.post("/v1/cron/cron:sweep/run")
    assert response.status_code == 202
    done = await outcome(api, response.json()["job_id"])
    assert (done["status"], done["function"]) == ("succeeded", "cron:sweep")
    assert set(done["result"]) >= {"stale_aborts_removed", "expired_entries_removed"}


async def test_queues_report(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "counted"})
    await outcome(api, job["job_id"])
    [report] = (await api.get("/v1/queues")).json()
    assert report["name"] == "arq:queue"
    assert report["finished_last_minute"]["succeeded"] >= 1
    assert report["finished_last_hour"]["succeeded"] >= report["finished_last_minute"]["succeeded"]
    assert len(report["series"]) >= 1
    assert {"queued", "deferred", "in_progress"} <= set(report["series"][0])


async def test_a_killed_worker_is_reported_gone(
    api: httpx.AsyncClient, stack: Stack, tmp_path: Path
) -> None:
    # Its own queue, so it takes none of the other tests' jobs.
    env = {**service_env(stack.redis.url), "JOBQUEUE_QUEUE_NAME": "arq:doomed"}
    doomed = start_worker(env, tmp_path, name="doomed-worker")

    async def status_of_doomed() -> str | None:
        for worker in (await api.get("/v1/workers")).json():
            if worker["pid"] == doomed.pid:
                return str(worker["status"])
        return None

    async def doomed_is(status: str) -> bool:
        return await status_of_doomed() == status

    await eventually(lambda: doomed_is("alive"), what="the new worker to show up as alive")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.process.wait()
    killed_at = time.monotonic()
    await eventually(lambda: doomed_is("gone"), timeout=6, what="the killed worker to be gone")
    assert time.monotonic() - killed_at >= 1  # not before the liveness window has passed
    doomed.stop()
    workers = (await api.get("/v1/workers")).json()
    main = next(w for w in workers if w["pid"] == stack.worker.pid)
    assert main["status"] == "alive"
    assert main["completed"] > 0


async def test_metrics_parse_and_include_worker_side_series(api: httpx.AsyncClient) -> None:
    job = await enqueue(api, "echo", args={"message": "m"})
    await outcome(api, job["job_id"])

    async def scrape() -> dict[str, list[tuple[str, dict[str, str], float]]]:
        text = (await api.get("/metrics")).text
        return {
            family.name: [(s.name, s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(text)
        }

    families = await eventually(scrape, what="/metrics")
    finished = {
        (labels["function"], labels["status"]): value
        for name, labels, value in families["jobqueue_jobs_finished"]
        if name.endswith("_total")
    }
    assert finished[("echo", "succeeded")] >= 1
    durations = {
        labels["function"]: value
        for name, labels, value in families["jobqueue_job_duration_seconds"]
        if name.endswith("_count")
    }
    assert durations["echo"] >= 1
    assert any(s[1].get("status") == "alive" and s[2] >= 1 for s in families["jobqueue_workers"])
