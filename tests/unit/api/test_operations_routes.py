"""Listing, retry, cron, queues, workers and metrics routes: status codes and bodies (fakeredis)."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue.history.tracker import JobTracker
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.heartbeat import WorkerStats, beat
from tests.helpers.redis_data import plant_result, start_job


async def enqueue(client: httpx.AsyncClient, message: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": message}, **body}
    )
    assert response.status_code == 202
    job: dict[str, Any] = response.json()
    return job


async def fail(redis: TrackedRedis, job_id: str) -> None:
    await plant_result(redis, job_id, success=False, result=ValueError("boom"))


async def test_list_is_newest_first_and_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    ids = [(await enqueue(client, f"m{i}"))["job_id"] for i in range(5)]
    first = (await client.get("/v1/jobs", params={"limit": 3})).json()
    assert [j["job_id"] for j in first["jobs"]] == ids[::-1][:3]
    second = (
        await client.get("/v1/jobs", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [j["job_id"] for j in second["jobs"]] == ids[::-1][3:]
    assert second["next_cursor"] is None


async def test_a_page_ending_at_the_last_job_has_no_cursor(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    ids = [(await enqueue(client, f"m{i}"))["job_id"] for i in range(4)]
    await fail(redis, ids[0])  # the jobs are spread over two status indexes
    first = (await client.get("/v1/jobs", params={"limit": 2})).json()
    assert first["next_cursor"] is not None
    second = (
        await client.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [j["job_id"] for j in second["jobs"]] == [ids[1], ids[0]]
    assert second["next_cursor"] is None


async def test_list_filters_by_status_and_function(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    ok = await enqueue(client, "ok")
    bad = await enqueue(client, "bad")
    await fail(redis, bad["job_id"])
    await client.post("/v1/jobs", json={"function": "sleep", "args": {"seconds": 1}})
    failed = (await client.get("/v1/jobs", params={"status": "failed"})).json()["jobs"]
    assert [j["job_id"] for j in failed] == [bad["job_id"]]
    assert failed[0]["error"]["type"] == "ValueError"
    queued_echo = (
        await client.get("/v1/jobs", params={"status": "queued", "function": "echo"})
    ).json()["jobs"]
    assert [j["job_id"] for j in queued_echo] == [ok["job_id"]]


async def test_list_separates_queued_from_deferred(client: httpx.AsyncClient) -> None:
    now = await enqueue(client, "now")
    later = await enqueue(client, "later", defer_by=600)
    deferred = (await client.get("/v1/jobs", params={"status": "deferred"})).json()["jobs"]
    queued = (await client.get("/v1/jobs", params={"status": "queued"})).json()["jobs"]
    assert [j["job_id"] for j in deferred] == [later["job_id"]]
    assert [j["job_id"] for j in queued] == [now["job_id"]]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 501}, ["query", "limit"]),
        ({"status": "done"}, ["query", "status"]),
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
    ],
)
async def test_bad_list_parameters_are_a_422(
    client: httpx.AsyncClient, params: dict[str, Any], loc: list[str]
) -> None:
    response = await client.get("/v1/jobs", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


async def test_a_job_outlives_its_arq_result_in_history(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueue(client, "kept")
    await plant_result(redis, job["job_id"], success=True, result={"message": "kept"})
    await redis.delete(f"arq:result:{job['job_id']}", f"arq:job:{job['job_id']}")
    await redis.zrem("arq:queue", job["job_id"])  # arq has forgotten it entirely
    view = (await client.get(f"/v1/jobs/{job['job_id']}")).json()
    assert (view["status"], view["result"], view["function"]) == ("succeeded", None, "echo")
    assert view["finish_time"] is not None


async def test_retry_re_runs_a_failed_job_once(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueue(client, "hi")
    await fail(redis, job["job_id"])  # the planted result has the same args
    first = await client.post(f"/v1/jobs/{job['job_id']}/retry")
    assert first.status_code == 202
    new = first.json()
    assert (new["retry_of"], new["function"], new["args"]) == (
        job["job_id"],
        "echo",
        {"message": "hi"},
    )
    assert new["job_id"] != job["job_id"]
    assert first.headers["location"] == f"/v1/jobs/{new['job_id']}"
    second = await client.post(f"/v1/jobs/{job['job_id']}/retry")
    assert (second.status_code, second.json()["job_id"]) == (200, new["job_id"])
    source = (await client.get(f"/v1/jobs/{job['job_id']}")).json()
    assert source["retried_as"] == new["job_id"]


async def test_retry_of_a_job_that_did_not_fail_is_a_409(client: httpx.AsyncClient) -> None:
    job = await enqueue(client, "fine")
    response = await client.post(f"/v1/jobs/{job['job_id']}/retry")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


async def test_retry_of_an_unknown_job_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/jobs/nope/retry")).status_code == 404


async def test_bulk_retry_is_bounded_filtered_and_idempotent(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    jobs = [await enqueue(client, f"b{i}") for i in range(3)]
    for job in jobs:
        await fail(redis, job["job_id"])
    other = (
        await client.post("/v1/jobs", json={"function": "sleep", "args": {"seconds": 1}})
    ).json()
    await fail(redis, other["job_id"])

    first = (await client.post("/v1/jobs/retry", json={"function": "echo", "limit": 2})).json()
    assert (first["retried"], first["already_retried"], len(first["job_ids"])) == (2, 0, 2)
    rest = (await client.post("/v1/jobs/retry", json={"function": "echo"})).json()
    assert (rest["retried"], rest["already_retried"]) == (1, 2)
    again = (await client.post("/v1/jobs/retry", json={"function": "echo"})).json()
    assert (again["retried"], again["already_retried"]) == (0, 3)


async def test_bulk_retry_honours_since(client: httpx.AsyncClient, redis: TrackedRedis) -> None:
    job = await enqueue(client, "old")
    await fail(redis, job["job_id"])
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await client.post("/v1/jobs/retry", json={"since": future})
    assert response.json()["retried"] == 0


@pytest.mark.parametrize(
    "body", [{"status": "succeeded"}, {"limit": 0}, {"limit": 1001}, {"since": "2030-01-01"}]
)
async def test_bad_bulk_retry_bodies_are_a_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert (await client.post("/v1/jobs/retry", json=body)).status_code == 422


async def test_a_bulk_retry_of_a_status_that_cannot_retry_names_the_allowed_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/jobs/retry", json={"status": "succeeded"})
    [error] = response.json()["detail"]
    assert (error["loc"], error["msg"]) == (
        ["body", "status"],
        "Input should be 'failed' or 'aborted'",
    )


async def test_cron_lists_each_job_with_schedule_and_next_run(client: httpx.AsyncClient) -> None:
    crons = {c["name"]: c for c in (await client.get("/v1/cron")).json()}
    assert set(crons) == {"cron:queue_stats", "cron:sweep"}
    sweep = crons["cron:sweep"]
    assert (sweep["cron"], sweep["schedule"]) == ("*/5 * * * *", "Every 5 minutes")
    next_run = datetime.fromisoformat(sweep["next_run"])
    assert next_run > datetime.now(UTC)
    assert next_run.minute % 5 == 0
    assert next_run.second == 0
    assert (sweep["last_run"], sweep["running"]) == (None, False)


async def test_cron_run_now_then_409_while_running(
    client: httpx.AsyncClient, redis: TrackedRedis, tracker: JobTracker
) -> None:
    response = await client.post("/v1/cron/cron:sweep/run")
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    # A worker picks it up:
    await start_job(redis, job_id)
    crons = {c["name"]: c for c in (await client.get("/v1/cron")).json()}
    assert crons["cron:sweep"]["running"] is True
    assert crons["cron:sweep"]["last_run"]["job_id"] == job_id
    busy = await client.post("/v1/cron/cron:sweep/run")
    assert busy.status_code == 409


async def test_cron_run_of_an_unknown_name_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/cron/cron:nope/run")).status_code == 404


async def test_queues_report_depth_and_recent_finishes(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    await enqueue(client, "waiting")
    await enqueue(client, "later", defer_by=600)
    done = await enqueue(client, "done")
    await plant_result(redis, done["job_id"], success=True, result={"message": "done"})
    [report] = (await client.get("/v1/queues")).json()
    assert report["name"] == "arq:queue"
    assert (report["queued"], report["deferred"], report["in_progress"]) == (2, 1, 0)
    assert report["oldest_waiting_age_s"] >= 0
    assert report["finished_last_minute"]["succeeded"] == 1
    assert report["finished_last_hour"]["succeeded"] == 1
    assert report["series"] == []


async def test_workers_are_alive_then_gone(
    client: httpx.AsyncClient, redis: TrackedRedis, settings: Settings
) -> None:
    stats = WorkerStats(completed=4)
    await beat(redis, settings, stats)
    [worker] = (await client.get("/v1/workers")).json()
    assert (worker["worker_id"], worker["status"], worker["completed"]) == (
        stats.worker_id,
        "alive",
        4,
    )
    stale = time.time() - settings.worker_liveness_window - 1
    await redis.hset(keys.worker(stats.worker_id), "last_seen", str(stale))  # type: ignore[misc]
    [worker] = (await client.get("/v1/workers")).json()
    assert worker["status"] == "gone"


async def test_metrics_parse_as_prometheus_text(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    done = await enqueue(client, "m")
    await plant_result(redis, done["job_id"], success=True, result={"message": "m"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {
        "jobqueue_http_requests",
        "jobqueue_http_request_duration_seconds",
        "jobqueue_api_open_streams",
        "jobqueue_enqueue_requests",
        "jobqueue_jobs_finished",
        "jobqueue_job_duration_seconds",
        "jobqueue_queue_jobs",
        "jobqueue_queue_oldest_waiting_age_seconds",
        "jobqueue_workers",
    } <= set(families)
    finished = {
        (s.labels["function"], s.labels["status"]): s.value
        for s in families["jobqueue_jobs_finished"].samples
        if s.name.endswith("_total")
    }
    assert finished[("echo", "succeeded")] == 1
    enqueued = [
        s for s in families["jobqueue_enqueue_requests"].samples if s.name.endswith("_total")
    ]
    assert any(s.labels == {"function": "echo", "outcome": "created"} for s in enqueued)
    assert families["jobqueue_api_open_streams"].samples[0].value == 0  # no stream open


async def test_metrics_show_the_most_jobs_an_alive_worker_held_for_tenant_caps(
    client: httpx.AsyncClient, redis: TrackedRedis, settings: Settings
) -> None:
    for held in (3, 5):  # two workers see the same queue: the most, not the sum
        await beat(redis, settings, WorkerStats(held=held))
    gone = WorkerStats(held=9)
    await beat(redis, settings, gone, stopped=True)
    response = await client.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["jobqueue_tenant_held_jobs"].samples[0].value == 5
    workers = (await client.get("/v1/workers")).json()
    assert sorted(worker["held"] for worker in workers) == [3, 5, 9]


async def test_events_of_an_unknown_job_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/jobs/nope/events")).status_code == 404


async def test_a_malformed_last_event_id_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 422


async def test_a_stall_shows_in_the_view_the_listing_and_the_metrics(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueue(client, "stalled")
    await start_job(redis, job["job_id"], owner="w1")
    await redis.delete(keys.in_progress(job["job_id"]))  # w1 died; its lease ran out
    await start_job(redis, job["job_id"], owner="w2")
    view = (await client.get(f"/v1/jobs/{job['job_id']}")).json()
    assert (view["status"], view["tries"], view["stalls"]) == ("in_progress", 1, 1)
    [listed] = (await client.get("/v1/jobs", params={"status": "in_progress"})).json()["jobs"]
    assert (listed["tries"], listed["stalls"]) == (1, 1)
    metrics = (await client.get("/metrics")).text
    assert 'jobqueue_job_stalls_total{function="echo"} 1.0' in metrics
