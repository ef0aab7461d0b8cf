"""Functions listing, health probes, request ids, OpenAPI and the 500 path."""

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.queue import JobQueue
from jobqueue.store import keys
from jobqueue.store.arq_format import REQUEST_ID_ARG, decode_job
from jobqueue.store.client import TrackedRedis


async def test_functions_lists_each_job_with_its_schema_and_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/functions")
    assert response.status_code == 200
    functions = {f["name"]: f for f in response.json()}
    assert set(functions) >= {"echo", "sleep", "webhook"}  # (and whatever jobs you add)
    sleep = functions["sleep"]
    assert sleep["args_schema"]["properties"]["seconds"]["maximum"] == 3600
    assert sleep["max_tries"] >= 1
    assert sleep["timeout"] > 3600
    assert sleep["description"]
    assert functions["webhook"]["result_schema"]["properties"]["status_code"]["type"] == "integer"


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_when_redis_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_a_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.1"})
    assert response.headers["x-request-id"] == "trace-abc.1"


@pytest.mark.parametrize("given", [None, "has spaces", "x" * 200])
async def test_a_missing_or_malformed_request_id_is_replaced(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {"X-Request-ID": given} if given else {}
    response = await client.get("/healthz", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != given
    assert len(generated) == 32


async def test_the_request_id_is_stored_with_the_job_for_the_worker(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    response = await client.post(
        "/v1/jobs",
        json={"function": "echo", "args": {"message": "hi"}},
        headers={"X-Request-ID": "req-77"},
    )
    job_id = response.json()["job_id"]
    stored = decode_job(await redis.get(keys.job(job_id)))
    assert stored.kwargs == {"message": "hi", REQUEST_ID_ARG: "req-77"}  # what the worker gets
    assert response.json()["args"] == {"message": "hi"}  # not part of the public args
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["args"] == {"message": "hi"}


async def test_swaggers_example_enqueue_bodies_are_valid_as_sent(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    examples = paths["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert examples  # Swagger's "Try it out" starts from the first
    for name, example in examples.items():
        response = await client.post("/v1/jobs", json=example["value"])
        assert response.status_code == 202, (name, response.text)


# Every route may answer 408, 413, 431 and 503 (the body limit, a middleware, and the
# server's deadlines, header limit and connection cap, before routing); every route but the
# probes 401 and 403 (the API key), and the enqueues and the re-run 429 (its rate).
DECLARED = {
    ("post", "/v1/jobs"): {200, 202, 400, 401, 403, 408, 409, 413, 422, 429, 431, 503},
    ("post", "/v1/jobs/batch"): {200, 400, 401, 403, 408, 413, 422, 429, 431, 503},
    ("post", "/v1/jobs/retry"): {200, 400, 401, 403, 408, 413, 422, 431, 503},
    ("get", "/v1/jobs"): {200, 401, 403, 408, 413, 422, 431, 503},
    ("get", "/v1/jobs/{job_id}"): {200, 401, 403, 404, 408, 413, 422, 431, 503},
    ("get", "/v1/jobs/{job_id}/result"): {200, 202, 401, 403, 404, 408, 413, 422, 431, 503},
    ("delete", "/v1/jobs/{job_id}"): {202, 401, 403, 404, 408, 409, 413, 422, 431, 503},
    ("post", "/v1/jobs/{job_id}/retry"): {
        200,
        202,
        401,
        403,
        404,
        408,
        409,
        413,
        422,
        429,
        431,
        503,
    },
    ("get", "/v1/jobs/{job_id}/events"): {200, 401, 403, 404, 408, 413, 422, 431, 503},
    ("get", "/v1/events"): {200, 401, 403, 408, 413, 422, 431, 503},
    ("post", "/v1/cron/{name}/run"): {202, 401, 403, 404, 408, 409, 413, 422, 431, 503},
    ("post", "/v1/cron/{name}/pause"): {200, 401, 403, 404, 408, 409, 413, 422, 431, 503},
    ("post", "/v1/cron/{name}/resume"): {200, 401, 403, 404, 408, 409, 413, 422, 431, 503},
    ("get", "/v1/cron"): {200, 401, 403, 408, 413, 431, 503},
    ("get", "/v1/queues"): {200, 401, 403, 408, 413, 431, 503},
    ("get", "/v1/workers"): {200, 401, 403, 408, 413, 431, 503},
    ("get", "/metrics"): {200, 401, 403, 408, 413, 431, 503},
    ("get", "/v1/functions"): {200, 401, 403, 408, 413, 431, 503},
    ("get", "/healthz"): {200, 408, 413, 431, 503},
    ("get", "/readyz"): {200, 408, 413, 431, 503},
}


async def test_openapi_declares_every_response_a_route_can_return(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    declared = {
        (method, path): {int(code) for code in operation["responses"]}
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert declared == DECLARED
    assert "text/event-stream" in paths["/v1/events"]["get"]["responses"]["200"]["content"]


async def test_a_bug_is_a_generic_500_without_traceback(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: JobQueue, job_id: str) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(JobQueue, "get", broken)
    response = await client.get("/v1/jobs/x")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "secret" not in response.text


def test_app_factory_builds_without_touching_redis() -> None:
    from jobqueue.api.app import create_app
    from jobqueue.settings import Settings

    assert isinstance(create_app(Settings(redis_url="redis://nowhere:1/0", auth="off")), FastAPI)
