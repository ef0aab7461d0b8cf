"""The dashboard's Enqueue page (fakeredis, the app in-process): a form generated from each job's
args schema; a good post enqueues (into the key's tenant) and goes to the job's page; a bad value
comes back beside its field with the very message `POST /v1/jobs` gives; no CSRF token, or a key
without `jobs:write`, enqueues nothing."""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.access import tokens
from jobqueue.access.scopes import Scope
from jobqueue.errors import JobNotFound
from jobqueue.queue import JobQueue
from tests.helpers.dashboard import csrf_of, key, write_keys

WRITER = tokens.mint()
READER = tokens.mint()
ROOT = tokens.mint()
SLOW = tokens.mint()
WATCHER = tokens.mint()


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return write_keys(
        tmp_path / "keys.toml",
        key("writer", WRITER, Scope.jobs_read, Scope.jobs_write, tenant="acme"),
        key("reader", READER, Scope.jobs_read, tenant="acme"),
        key("root", ROOT, Scope.admin),
        key("slow", SLOW, Scope.jobs_write, rate_per_second=0.001),
        key("watcher", WATCHER, Scope.ops_read),
    )


@pytest.fixture
def queue(app: FastAPI) -> JobQueue:
    services_queue: JobQueue = app.state.services.queue
    return services_queue


async def log_in(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post("/dashboard/login", data={"token": token})
    assert response.status_code == 303


async def form(client: httpx.AsyncClient, function: str) -> str:
    response = await client.get(f"/dashboard/enqueue/{function}")
    assert response.status_code == 200
    return response.text


async def post(client: httpx.AsyncClient, function: str, **fields: str) -> httpx.Response:
    csrf = csrf_of(await form(client, function))
    return await client.post(f"/dashboard/enqueue/{function}", data={"csrf": csrf, **fields})


async def api_errors(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> list[Any]:
    response = await client.post(
        "/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    detail: list[Any] = response.json()["detail"]
    return detail


def tag_of(page: str, field_id: str) -> str:
    [tag] = re.findall(rf'<(?:input|select|textarea)[^>]*id="{field_id}"[^>]*>', page)
    return str(tag)


def error_of(page: str, field_id: str) -> str:
    [message] = re.findall(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page)
    return str(message)


async def test_the_enqueue_page_lists_each_function_with_its_description(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, WRITER)
    page = (await dashboard.get("/dashboard/enqueue")).text
    for name in ("echo", "sleep", "webhook"):
        assert f'<a href="/dashboard/enqueue/{name}"><code>{name}</code></a>' in page
    assert "Sleep for `seconds` (at most an hour)" in page
    assert 'aria-current="page">Enqueue' in page


async def test_an_unknown_function_has_no_form(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, WRITER)
    response = await dashboard.get("/dashboard/enqueue/nope")
    assert response.status_code == 404
    assert "no function named &#39;nope&#39;" in response.text


async def test_the_form_has_a_labelled_field_for_each_property_of_the_args_schema(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, WRITER)
    page = await form(dashboard, "webhook")
    for field_id, label in [
        ("field-args_url", "Url"),
        ("field-args_payload", "Payload"),
        ("field-args_headers", "Headers"),
        ("field-args_timeout", "Timeout"),
        ("field-job_id", "Job id"),
        ("field-defer_by", "Defer by (seconds)"),
    ]:
        assert f'<label for="{field_id}">{label}' in page
    assert 'type="text" id="field-args_url" name="args.url" aria-required="true"' in page
    assert tag_of(page, "field-args_payload").startswith("<textarea")
    headers = tag_of(page, "field-args_headers")
    assert 'aria-describedby="field-args_headers-help"' in headers
    assert "extra request headers, their values secret" in page  # (the schema's description)
    timeout = tag_of(page, "field-args_timeout")
    for attribute in ('type="number"', 'value="10.0"', 'min="0.1"', 'max="60.0"', 'step="any"'):
        assert attribute in timeout
    assert "aria-required" not in timeout
    seconds = tag_of(await form(dashboard, "sleep"), "field-args_seconds")
    for attribute in ('min="0"', 'max="3600"', 'aria-required="true"'):
        assert attribute in seconds


async def test_a_good_post_enqueues_the_job_and_goes_to_its_page(
    dashboard: httpx.AsyncClient, queue: JobQueue
) -> None:
    await log_in(dashboard, ROOT)
    response = await post(
        dashboard, "sleep", **{"args.seconds": "2.5", "job_id": "nap-1", "defer_by": "30"}
    )
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/jobs/nap-1")
    job = await queue.get("nap-1")
    assert (job.function, job.args, job.status) == ("sleep", {"seconds": 2.5}, "deferred")


async def test_json_fields_and_defaults_make_the_jobs_args(
    dashboard: httpx.AsyncClient, queue: JobQueue
) -> None:
    await log_in(dashboard, ROOT)
    page = await form(dashboard, "webhook")
    fields = {
        "args.url": "http://127.0.0.1:9/hook",
        "args.payload": '{"order": 42}',
        "args.headers": "",  # (left out)
        "args.timeout": "10.0",  # (the default, as shown)
    }
    response = await dashboard.post(
        "/dashboard/enqueue/webhook", data={"csrf": csrf_of(page), **fields}
    )
    assert response.status_code == 303
    job_id = response.headers["location"].rsplit("/", 1)[1]
    job = await queue.get(job_id)
    assert job.args == {
        "url": "http://127.0.0.1:9/hook",
        "payload": {"order": 42},
        "headers": {},  # (the model's default)
        "timeout": 10.0,
    }


@pytest.mark.parametrize("seconds", ["-1", "abc", "7200"])
async def test_a_bad_value_shows_the_apis_message_beside_its_field(
    dashboard: httpx.AsyncClient, seconds: str
) -> None:
    await log_in(dashboard, ROOT)
    response = await post(dashboard, "sleep", **{"args.seconds": seconds})
    assert response.status_code == 422
    [expected] = await api_errors(
        dashboard, ROOT, {"function": "sleep", "args": {"seconds": _json_number(seconds)}}
    )
    assert expected["loc"] == ["body", "args", "seconds"]
    page = response.text
    assert error_of(page, "field-args_seconds") == _escaped(expected["msg"])
    tag = tag_of(page, "field-args_seconds")
    assert 'aria-invalid="true"' in tag
    assert 'aria-describedby="field-args_seconds-error"' in tag
    assert f'value="{seconds}"' in tag  # (kept)
    assert '<div class="summary" role="alert">' in page
    assert f'<a href="#field-args_seconds">Seconds</a>: {_escaped(expected["msg"])}' in page


def _json_number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def test_a_missing_required_field_and_bad_json_are_each_named(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, ROOT)
    fields = {"args.payload": "{not json", "job_id": "cron:mine", "defer_by": "soon"}
    response = await post(dashboard, "webhook", **fields)
    assert response.status_code == 422
    page = response.text
    [url_error] = await api_errors(
        dashboard, ROOT, {"function": "webhook", "args": {"payload": {}}}
    )
    assert error_of(page, "field-args_url") == _escaped(url_error["msg"])
    assert error_of(page, "field-args_payload").startswith("Invalid JSON: Expecting property name")
    [job_id_error, defer_error] = await api_errors(
        dashboard,
        ROOT,
        {"function": "webhook", "args": {}, "job_id": "cron:mine", "defer_by": "soon"},
    )
    assert error_of(page, "field-job_id") == _escaped(job_id_error["msg"])
    assert error_of(page, "field-defer_by") == _escaped(defer_error["msg"])
    assert "{not json</textarea>" in page


async def test_secrets_are_not_shown_again_after_an_error(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, ROOT)
    fields = {"args.payload": "[]", "args.headers": '{"Authorization": "Bearer s3cret"}'}
    response = await post(dashboard, "webhook", **fields)
    assert response.status_code == 422
    assert "s3cret" not in response.text


async def test_an_action_without_the_pages_token_enqueues_nothing(
    dashboard: httpx.AsyncClient, queue: JobQueue
) -> None:
    await log_in(dashboard, ROOT)
    response = await dashboard.post(
        "/dashboard/enqueue/sleep", data={"args.seconds": "1", "job_id": "forged"}
    )
    assert response.status_code == 403
    with pytest.raises(JobNotFound):
        await queue.get("forged")


async def test_a_key_without_jobs_write_sees_no_button_and_is_refused_if_it_posts(
    dashboard: httpx.AsyncClient, queue: JobQueue
) -> None:
    await log_in(dashboard, READER)
    listing = (await dashboard.get("/dashboard/enqueue")).text
    assert "lacks the scope <code>jobs:write</code>" in listing
    page = await form(dashboard, "sleep")
    assert '<button type="submit">Enqueue</button>' not in page
    fields = {"csrf": csrf_of(page), "args.seconds": "1", "job_id": "sneaky"}
    refused = await dashboard.post("/dashboard/enqueue/sleep", data=fields)
    assert refused.status_code == 403
    assert "lacks the scope &#39;jobs:write&#39;" in refused.text
    for stored in ("sneaky", "acme~sneaky"):
        with pytest.raises(JobNotFound):
            await queue.get(stored)


async def test_a_tenants_job_lands_in_its_tenant(
    dashboard: httpx.AsyncClient, queue: JobQueue
) -> None:
    await log_in(dashboard, WRITER)
    response = await post(dashboard, "echo", **{"args.message": "hi", "job_id": "mine"})
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/jobs/mine")
    job = await queue.get("acme~mine")
    assert job.args == {"message": "hi"}
    with pytest.raises(JobNotFound):
        await queue.get("mine")


async def test_a_conflicting_job_id_is_a_409_above_the_form(dashboard: httpx.AsyncClient) -> None:
    await log_in(dashboard, ROOT)
    assert (
        await post(dashboard, "echo", **{"args.message": "a", "job_id": "one"})
    ).status_code == 303
    again = await post(dashboard, "echo", **{"args.message": "a", "job_id": "one"})
    assert again.status_code == 303  # (the same job: idempotent)
    conflict = await post(dashboard, "echo", **{"args.message": "b", "job_id": "one"})
    assert conflict.status_code == 409
    assert '<p class="error" role="alert">' in conflict.text
    assert 'value="b"' in conflict.text


async def test_the_forms_enqueues_are_rate_limited_as_the_apis(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, SLOW)
    statuses = [
        (await post(dashboard, "echo", **{"args.message": "x"})).status_code for _ in range(4)
    ]
    assert statuses[0] == 303
    assert statuses[-1] == 429
    limited = await post(dashboard, "echo", **{"args.message": "x"})
    assert "retry-after" in limited.headers


async def test_a_form_with_too_many_fields_is_refused_not_an_error(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, ROOT)
    csrf = csrf_of(await form(dashboard, "echo"))
    fields = {"csrf": csrf, "args.message": "x", **{f"extra{i}": "1" for i in range(70)}}
    response = await dashboard.post("/dashboard/enqueue/echo", data=fields)
    assert response.status_code == 413
    assert "the form has more than 64 fields" in response.text


async def test_a_key_without_jobs_read_or_write_sees_no_functions(
    dashboard: httpx.AsyncClient,
) -> None:
    await log_in(dashboard, WATCHER)
    listing = (await dashboard.get("/dashboard/enqueue")).text
    assert "lacks the scope <code>jobs:read</code>" in listing
    assert "/dashboard/enqueue/sleep" not in listing
    assert (await dashboard.get("/dashboard/enqueue/sleep")).status_code == 403
