"""Every job route's status codes and bodies, against fakeredis."""

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fakeredis
import httpx
import pytest
from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss, in_progress_key_prefix, result_key_prefix

from jobqueue.history.followers import JobWatch
from tests.helpers import eventually
from tests.helpers.redis_data import plant_result

QUEUE = "arq:queue"


async def enqueue(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "hi"}, **body}
    )


async def test_enqueue_returns_202_location_and_the_job_view(client: httpx.AsyncClient) -> None:
    response = await enqueue(client)
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['job_id']}"
    assert job["function"] == "echo"
    assert job["args"] == {"message": "hi"}
    assert job["status"] == "queued"
    assert job["tries"] == 0
    assert job["enqueue_time"] is not None
    assert (job["result"], job["error"], job["start_time"]) == (None, None, None)


async def test_same_job_id_function_and_args_returns_200_and_the_same_job(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    first = await enqueue(client, job_id="order-42")
    again = await enqueue(client, job_id="order-42")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert await redis.zcard(QUEUE) == 1


async def test_same_job_id_is_idempotent_after_the_job_finished(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    await plant_result(redis, "done-1", success=True, result={"message": "hi"})
    response = await enqueue(client, job_id="done-1")
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


async def test_same_job_id_with_different_args_is_a_409(client: httpx.AsyncClient) -> None:
    await enqueue(client, job_id="order-43")
    response = await client.post(
        "/v1/jobs", json={"function": "echo", "args": {"message": "bye"}, "job_id": "order-43"}
    )
    assert response.status_code == 409
    assert "order-43" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"function": "nope"}, ["body", "function"]),
        ({"function": "echo", "args": {}}, ["body", "args", "message"]),
        ({"function": "echo", "args": {"message": "x", "extra": 1}}, ["body", "args", "extra"]),
        ({"function": "sleep", "args": {"seconds": 3601}}, ["body", "args", "seconds"]),
        (
            {"function": "webhook", "args": {"url": "ftp://x", "payload": {}}},
            ["body", "args", "url"],
        ),
        ({"function": "echo", "args": {"message": "x"}, "job_id": "-bad"}, ["body", "job_id"]),
        ({"function": "echo", "args": {"message": "x"}, "job_id": "x" * 129}, ["body", "job_id"]),
        ({"function": "echo", "args": {"message": "x"}, "defer_by": -1}, ["body", "defer_by"]),
        (
            {"function": "echo", "args": {"message": "x"}, "defer_until": "2030-01-01T00:00:00"},
            ["body", "defer_until"],
        ),
        ({"function": "echo", "args": {"message": "x"}, "expires": 0}, ["body", "expires"]),
        ({"function": "echo", "bogus": 1}, ["body", "bogus"]),
        ({"args": {}}, ["body", "function"]),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert loc in [error["loc"] for error in response.json()["detail"]]


async def test_unknown_function_error_lists_the_registered_ones(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs", json={"function": "nope"})
    message = response.json()["detail"][0]["msg"]
    assert message.startswith("unknown function 'nope'; registered: ")
    assert {"echo", "sleep", "webhook"} <= set(message.split("registered: ")[1].split(", "))


async def test_both_deferrals_at_once_is_a_422(client: httpx.AsyncClient) -> None:
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await enqueue(client, defer_by=5, defer_until=soon)
    assert response.status_code == 422
    assert "either defer_by or defer_until" in response.json()["detail"][0]["msg"]


async def test_a_malformed_body_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_webhook_to_a_private_literal_address_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs",
        json={"function": "webhook", "args": {"url": "http://10.0.0.5/hook", "payload": {}}},
    )
    assert response.status_code == 422
    assert "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS" in response.json()["detail"][0]["msg"]


async def test_webhook_to_an_allow_listed_address_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs",
        json={"function": "webhook", "args": {"url": "http://127.0.0.1:9/", "payload": {"a": 1}}},
    )
    assert response.status_code == 202


async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    response = await enqueue(client, args={"message": "x" * 20_000})
    assert response.status_code == 413
    assert "10000-byte limit" in response.json()["detail"]


async def test_a_streamed_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(30):
            yield b"x" * 1000

    response = await client.post("/v1/jobs", content=chunks())
    assert response.status_code == 413


async def test_defer_by_makes_the_job_deferred(client: httpx.AsyncClient) -> None:
    job = (await enqueue(client, defer_by=60)).json()
    assert job["status"] == "deferred"
    assert job["scheduled_for"] > job["enqueue_time"]


async def test_defer_until_sets_the_scheduled_time(client: httpx.AsyncClient) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    in_paris = when.astimezone(timezone(timedelta(hours=1))).isoformat()
    job = (await enqueue(client, defer_until=in_paris)).json()
    assert job["status"] == "deferred"
    assert job["scheduled_for"] == when.isoformat().replace("+00:00", "Z")


async def test_get_unknown_job_returns_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs/missing")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


async def test_get_shows_a_running_job_as_in_progress(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    job_id = (await enqueue(client)).json()["job_id"]
    await redis.set(in_progress_key_prefix + job_id, b"1")
    await redis.set(f"arq:retry:{job_id}", 1)
    job = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert (job["status"], job["tries"]) == ("in_progress", 1)
    assert job["scheduled_for"] is None  # set only while it waits


async def test_get_splits_complete_into_succeeded_failed_and_aborted(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    await plant_result(redis, "ok", success=True, result={"message": "hi"})
    await plant_result(redis, "bad", success=False, result=ValueError("boom"))
    await plant_result(redis, "stopped", success=False, result=asyncio.CancelledError())
    ok = (await client.get("/v1/jobs/ok")).json()
    bad = (await client.get("/v1/jobs/bad")).json()
    stopped = (await client.get("/v1/jobs/stopped")).json()
    assert (ok["status"], ok["result"], ok["error"], ok["tries"]) == (
        "succeeded",
        {"message": "hi"},
        None,
        2,
    )
    assert ok["start_time"] is not None
    assert ok["finish_time"] is not None
    assert (bad["status"], bad["error"]) == ("failed", {"type": "ValueError", "message": "boom"})
    assert stopped["status"] == "aborted"
    assert stopped["error"]["type"] == "CancelledError"


async def test_unreadable_job_data_is_reported_not_a_500(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    await redis.set("arq:job:planted", b"\x80\x04\x95not json")
    await redis.zadd(QUEUE, {"planted": time.time() * 1000 + 60_000})
    await redis.set(result_key_prefix + "planted-result", b"\x80\x04K\x01.")
    job = (await client.get("/v1/jobs/planted")).json()
    assert job["status"] == "deferred"
    assert job["error"]["type"] == "DeserializationError"
    result = await client.get("/v1/jobs/planted-result")
    assert result.status_code == 200
    assert result.json()["status"] == "failed"


async def test_result_without_waiting_returns_202_while_not_finished(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await enqueue(client)).json()["job_id"]
    response = await client.get(f"/v1/jobs/{job_id}/result")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


async def test_result_waits_until_the_job_finishes(
    client: httpx.AsyncClient, redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = asyncio.Event()
    news = JobWatch.news

    async def news_noted(watch: JobWatch, timeout: float | None = None) -> bool:
        waiting.set()  # the long-poll now waits for the job's news
        return await news(watch, timeout)

    monkeypatch.setattr(JobWatch, "news", news_noted)

    async def finish_once_waited_for() -> None:
        await waiting.wait()
        await plant_result(redis, "soon", success=True, result={"message": "hi"})

    await enqueue(client, job_id="soon")
    finisher = asyncio.create_task(finish_once_waited_for())
    started = time.monotonic()
    response = await client.get("/v1/jobs/soon/result", params={"timeout": 5})
    await finisher
    assert time.monotonic() - started < 2  # woke at the job's end, not at the 5 s timeout
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


async def test_result_of_an_unknown_job_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/jobs/nope/result")).status_code == 404


@pytest.mark.parametrize("timeout", ["-1", "61", "soon"])
async def test_result_timeout_out_of_range_is_a_422(
    client: httpx.AsyncClient, timeout: str
) -> None:
    response = await client.get("/v1/jobs/x/result", params={"timeout": timeout})
    assert response.status_code == 422


async def test_abort_of_a_queued_job_finishes_it_as_aborted_at_once(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    job_id = (await enqueue(client, defer_by=60)).json()["job_id"]
    response = await client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 202
    job = response.json()
    assert (job["status"], job["tries"], job["start_time"]) == ("aborted", 0, None)
    assert await redis.zscore(QUEUE, job_id) is None
    assert await redis.exists(f"arq:job:{job_id}") == 0


async def test_abort_of_a_running_job_asks_the_worker_to_cancel_it(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    job_id = (await enqueue(client)).json()["job_id"]
    await redis.set(in_progress_key_prefix + job_id, b"1")
    response = await client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 202
    assert response.json()["status"] == "in_progress"
    assert await redis.zscore(abort_jobs_ss, job_id) is not None


async def test_abort_of_a_finished_job_is_a_409(client: httpx.AsyncClient, redis: ArqRedis) -> None:
    await plant_result(redis, "finished", success=True, result={"message": "hi"})
    response = await client.delete("/v1/jobs/finished")
    assert response.status_code == 409
    assert "succeeded" in response.json()["detail"]


async def test_abort_of_an_unknown_job_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/v1/jobs/nope")).status_code == 404


async def test_redis_down_is_a_503_with_retry_after_and_no_traceback(
    client: httpx.AsyncClient, fake_server: fakeredis.FakeServer
) -> None:
    fake_server.connected = False
    for response in [
        await enqueue(client),
        await client.get("/v1/jobs/x"),
        await client.get("/v1/jobs/x/result"),
        await client.delete("/v1/jobs/x"),
        await client.get("/readyz"),
    ]:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"].startswith("Redis is unavailable")
        assert "Traceback" not in response.text
    fake_server.connected = True  # the circuit's probe finds Redis back within a moment

    async def enqueued() -> bool:
        return (await enqueue(client)).status_code == 202

    await eventually(enqueued, timeout=5, what="the API to heal")


async def test_a_json_subtype_body_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs",
        content=b'{"function": "echo", "args": {"message": "hi"}}',
        headers={"content-type": "application/vnd.api+json; charset=utf-8"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("content", "headers", "error_type"),
    [
        (b'{"function": "echo"}', {"content-type": "text/plain"}, "model_attributes_type"),
        (b"", {"content-type": "application/json"}, "missing"),
        (b"{nope", {"content-type": "application/json"}, "json_invalid"),
    ],
)
async def test_a_body_that_is_not_a_json_object_gets_fastapis_own_422(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str], error_type: str
) -> None:
    response = await client.post("/v1/jobs", content=content, headers=headers)
    assert response.status_code == 422
    assert [(e["type"], e["loc"][0]) for e in response.json()["detail"]] == [(error_type, "body")]


async def test_a_bad_deferral_never_fails_the_requests_batched_with_it(
    client: httpx.AsyncClient,
) -> None:
    """Concurrent enqueues share one script call: one request's past `defer_until` (once a
    negative expiry that failed the whole call, half-written) means now, and fails no one."""
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    responses = await asyncio.gather(
        enqueue(client, job_id="left"),
        enqueue(client, job_id="past", defer_until=past),
        enqueue(client, job_id="right"),
    )
    assert [r.status_code for r in responses] == [202, 202, 202]
    late = responses[1].json()
    assert late["status"] == "queued"
    assert late["scheduled_for"] == late["enqueue_time"]
