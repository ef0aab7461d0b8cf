"""Secret job args end to end: a webhook's `Authorization` header reaches its target as given
and nowhere else — not in an API response, an event, a log line of the API or the worker, nor
in any key of Redis — and a retry sends it again; a worker with a rotated key list runs jobs
sealed under the old key, and one without that key fails such a job at once (and carries on).
Each test has its own redis-server, API and worker."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import redis.asyncio

from tests.helpers import eventually
from tests.helpers.api import enqueue, outcome
from tests.helpers.redis_data import redis_contents
from tests.helpers.secret_keys import NEXT_SECRETS_KEY, ROTATED, SECRETS_KEY
from tests.helpers.services import (
    RedisServer,
    ServiceProcess,
    service_env,
    start_api,
    start_worker,
)
from tests.helpers.sse import read_sse
from tests.helpers.webhook_target import WebhookTarget

SECRET = f"s3cr3t-{uuid.uuid4().hex}"  # fresh per run: found only where this run put it
AUTHORIZATION = f"Bearer {SECRET}"


def webhook_args(target: WebhookTarget, name: str) -> dict[str, object]:
    headers = {"Authorization": AUTHORIZATION}
    return {"url": target.url(name), "payload": {"n": 1}, "headers": headers}


@contextlib.asynccontextmanager
async def feed_text(url: str) -> AsyncIterator[list[str]]:
    """Everything `/v1/events` sends while the block runs (read by a task)."""
    received: list[str] = []
    opened = asyncio.Event()

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as client,
            client.stream("GET", "/v1/events") as response,
        ):
            opened.set()
            async for chunk in response.aiter_text():
                received.append(chunk)

    reader = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 10)
    try:
        yield received
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def job_events_text(api: httpx.AsyncClient, job_id: str) -> str:
    """The job's whole event stream (it closes after its end), as sent."""
    async with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        events = [event async for event in read_sse(response)]
    assert events[0].type == "enqueued"
    return "\n".join(f"{e.id} {e.type} {e.data}" for e in events)


async def test_a_webhook_secret_reaches_its_target_and_nothing_else(
    tmp_path: Path, webhook_target: WebhookTarget
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, tmp_path)
    api_process, url = start_api(env, tmp_path)
    shown: list[str] = []  # every response body and event the API sent
    try:
        name = f"secret-{uuid.uuid4().hex[:8]}"
        webhook_target.script(name, [404, 200])  # fails at once, then its re-run succeeds
        async with (
            httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as api,
            feed_text(url) as feed,
        ):
            response = await api.post(
                "/v1/jobs", json={"function": "webhook", "args": webhook_args(webhook_target, name)}
            )
            assert response.status_code == 202
            shown.append(response.text)
            job_id = response.json()["job_id"]
            failed = await outcome(api, job_id)
            assert (failed["status"], failed["error"]["type"]) == ("failed", "WebhookRejected")
            retry = await api.post(f"/v1/jobs/{job_id}/retry")
            assert retry.status_code == 202
            shown.append(retry.text)
            rerun = await outcome(api, retry.json()["job_id"])
            assert rerun["status"] == "succeeded"
            batch = await api.post(
                "/v1/jobs/batch",
                json={
                    "jobs": [{"function": "webhook", "args": webhook_args(webhook_target, name)}]
                },
            )
            shown.append(batch.text)
            await outcome(api, batch.json()["results"][0]["job"]["job_id"])
            for path in (
                f"/v1/jobs/{job_id}",
                f"/v1/jobs/{job_id}/result",
                "/v1/jobs",
                "/v1/jobs?function=webhook",
                "/v1/jobs?status=failed",
                "/metrics",
                "/v1/workers",
                "/v1/queues",
            ):
                answer = await api.get(path)
                assert answer.status_code == 200, path
                shown.append(answer.text)
            shown.append(await job_events_text(api, job_id))
            shown.append(await job_events_text(api, retry.json()["job_id"]))
            await eventually(  # (the feed has seen the re-run's end)
                lambda: any("succeeded" in chunk for chunk in feed), what="the feed's events"
            )
            shown.append("".join(feed))
        async with redis.asyncio.Redis.from_url(server.url) as admin:
            stored = await redis_contents(admin)
    finally:
        api_process.stop()
        worker.stop()
        server.stop()
    hits = webhook_target.hits[name]
    assert [hit["headers"]["Authorization"] for hit in hits] == [AUTHORIZATION] * 3
    assert job_id in shown[-1]  # (the feed carried the job's events)
    assert all("**********" in text for text in shown[:3])  # (the args were shown, masked)
    for text in shown:
        assert SECRET not in text, text[:300]
    logs = worker.log_text() + api_process.log_text()
    assert "job.failed" in logs  # (the lines were written)
    assert job_id in logs
    assert SECRET not in logs
    assert b"jobqueue-secret:v1:" in stored  # (the jobs are there, their secret sealed)
    assert SECRET.encode() not in stored


async def test_a_rotated_worker_runs_old_jobs_and_one_without_the_key_fails_them_once(
    tmp_path: Path, webhook_target: WebhookTarget
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    env = service_env(server.url)  # sealed under SECRETS_KEY
    api_process, url = start_api(env, tmp_path)
    name = f"rotated-{uuid.uuid4().hex[:8]}"
    webhook_target.script(name, [200])
    workers: list[ServiceProcess] = []  # (each kept, for its log)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as api:
            old = await enqueue(api, "webhook", args=webhook_args(webhook_target, name))
            workers.append(
                start_worker({**env, "JOBQUEUE_SECRETS_KEY": ROTATED}, tmp_path, "rotated")
            )
            assert (await outcome(api, old["job_id"]))["status"] == "succeeded"
            workers[-1].stop()

            orphan = await enqueue(api, "webhook", args=webhook_args(webhook_target, name))
            dropped = {**env, "JOBQUEUE_SECRETS_KEY": NEXT_SECRETS_KEY}  # the old key gone
            workers.append(start_worker(dropped, tmp_path, "dropped"))
            failed = await outcome(api, orphan["job_id"])
            after = await enqueue(api, "echo", args={"message": "still running"})
            assert (await outcome(api, after["job_id"]))["status"] == "succeeded"
    finally:
        for worker in workers:
            worker.stop()
        api_process.stop()
        server.stop()
    assert [hit["headers"]["Authorization"] for hit in webhook_target.hits[name]] == [AUTHORIZATION]
    assert (failed["status"], failed["tries"]) == ("failed", 1)
    assert failed["error"]["type"] == "SecretUnreadable"
    assert failed["error"]["message"].startswith("headers.Authorization: no key in ")
    logs = "".join(process.log_text() for process in [api_process, *workers])
    assert "SecretUnreadable" in logs
    assert SECRET not in logs
    assert SECRETS_KEY not in logs
