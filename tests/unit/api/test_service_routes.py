"""Functions listing, health probes, request ids, OpenAPI and the 500 path."""

import json
import logging

import httpx
import pytest
import structlog
from fastapi import FastAPI

from jobqueue.queue import JobQueue


async def test_functions_lists_each_job_with_its_schema_and_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/functions")
    assert response.status_code == 200
    functions = {f["name"]: f for f in response.json()}
    assert set(functions) == {"echo", "sleep", "webhook"}
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


async def test_the_request_id_travels_with_the_job(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs",
        json={"function": "echo", "args": {"message": "hi"}},
        headers={"X-Request-ID": "req-77"},
    )
    # Stored for the worker's logs, but not part of the job's public args.
    assert response.json()["args"] == {"message": "hi"}


async def test_openapi_declares_every_response_a_route_can_return(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/jobs"]["post"]["responses"]) == {"200", "202", "409", "413", "422", "503"}
    assert set(paths["/v1/jobs/{job_id}"]["get"]["responses"]) == {"200", "404", "422", "503"}
    assert set(paths["/v1/jobs/{job_id}/result"]["get"]["responses"]) == {
        "200", "202", "404", "422", "503",
    }  # fmt: skip
    assert set(paths["/v1/jobs/{job_id}"]["delete"]["responses"]) == {
        "202", "404", "409", "422", "503",
    }  # fmt: skip
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert set(paths["/v1/jobs"]["get"]["responses"]) == {"200", "422", "503"}
    assert set(paths["/v1/jobs/{job_id}/retry"]["post"]["responses"]) == {
        "200", "202", "404", "409", "422", "503",
    }  # fmt: skip
    assert set(paths["/v1/jobs/retry"]["post"]["responses"]) == {"200", "422", "503"}
    assert set(paths["/v1/jobs/{job_id}/events"]["get"]["responses"]) == {
        "200", "404", "422", "503",
    }  # fmt: skip
    assert "text/event-stream" in paths["/v1/events"]["get"]["responses"]["200"]["content"]
    assert set(paths["/v1/cron/{name}/run"]["post"]["responses"]) == {
        "202", "404", "409", "422", "503",
    }  # fmt: skip
    for path in ("/v1/cron", "/v1/queues", "/v1/workers", "/metrics"):
        assert "503" in paths[path]["get"]["responses"]


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


def test_request_log_lines_are_json_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jobqueue.logging import configure_logging

    configure_logging("INFO", "json")
    structlog.contextvars.bind_contextvars(request_id="r-1")
    structlog.get_logger("jobqueue.test").info("http.request", status=200)
    structlog.contextvars.clear_contextvars()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "http.request"
    assert line["request_id"] == "r-1"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_uvicorn_access_lines_are_not_even_built() -> None:
    """uvicorn builds an access line per response iff its logger `hasHandlers()`; ours
    (`http.request`) replaces it."""
    from jobqueue.logging import configure_logging

    configure_logging("INFO", "json")
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    assert logging.getLogger("uvicorn.error").hasHandlers()  # its start-up lines stay


def test_app_factory_builds_without_touching_redis() -> None:
    from jobqueue.api.app import create_app
    from jobqueue.settings import Settings

    assert isinstance(create_app(Settings(redis_url="redis://nowhere:1/0")), FastAPI)
