"""What a careless or hostile client sends gets a precise 4xx, never a 5xx: non-finite numbers,
out-of-range deferrals and expiries, lone surrogates, huge integers, deep nesting, odd bodies,
odd query strings and paths."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from jobqueue.api.json_limits import MAX_DEPTH
from jobqueue.api.schemas import MAX_DEFERRAL_SECONDS, RESERVED_JOB_ID_PREFIXES
from jobqueue.jobs.maintenance import scheduled_jobs
from jobqueue.ops.crons import manual_run_id
from jobqueue.settings import Settings

JSON = {"content-type": "application/json"}
ECHO = '"function": "echo", "args": {"message": "x"}'
WEBHOOK = '"function": "webhook", "args": {"url": "http://127.0.0.1/h", "payload": %s}'


async def post(client: httpx.AsyncClient, path: str, raw: str | bytes) -> httpx.Response:
    body = raw.encode() if isinstance(raw, str) else raw
    return await client.post(path, content=body, headers=JSON)


def error(response: httpx.Response) -> dict[str, Any]:
    """The 422's only error (and the body is JSON, or `.json()` fails)."""
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert len(detail) == 1, detail
    return detail[0]


def nested_payload(levels: int) -> str:
    """A webhook payload (an object) of `levels` nested objects, args being one more."""
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


# --- Non-finite numbers ---------------------------------------------------------------------


async def test_nan_in_webhook_payload_is_422(client: httpx.AsyncClient) -> None:
    found = error(await post(client, "/v1/jobs", "{%s}" % (WEBHOOK % '{"total": NaN}')))
    assert (found["type"], found["loc"]) == ("finite_number", ["body", "args", "payload", "total"])
    assert found["input"] == "NaN"


async def test_infinity_in_args_is_422(client: httpx.AsyncClient) -> None:
    found = error(
        await post(client, "/v1/jobs", '{"function": "sleep", "args": {"seconds": Infinity}}')
    )
    assert (found["type"], found["loc"]) == ("finite_number", ["body", "args", "seconds"])


@pytest.mark.parametrize("field", ["defer_by", "expires"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
async def test_non_finite_defer_by_or_expires_is_422(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    found = error(await post(client, "/v1/jobs", f'{{{ECHO}, "{field}": {value}}}'))
    assert (found["type"], found["loc"]) == ("finite_number", ["body", field])


async def test_nan_in_a_batch_item_is_422_for_that_item(client: httpx.AsyncClient) -> None:
    raw = f'{{"jobs": [{{{ECHO}}}, {{{ECHO}, "defer_by": NaN}}]}}'
    response = await post(client, "/v1/jobs/batch", raw)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status_code"] for r in results] == [202, 422]
    assert results[1]["detail"][0]["loc"] == ["body", "jobs", 1, "defer_by"]


async def test_nan_limit_in_bulk_retry_is_422(client: httpx.AsyncClient) -> None:
    found = error(await post(client, "/v1/jobs/retry", '{"limit": NaN}'))
    assert (found["type"], found["loc"]) == ("finite_number", ["body", "limit"])


# --- Deferral and expiry bounds -------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "1e12", str(MAX_DEFERRAL_SECONDS + 1)])
@pytest.mark.parametrize("field", ["defer_by", "expires"])
async def test_defer_by_or_expires_over_the_deferral_limit_is_422(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    found = error(await post(client, "/v1/jobs", f'{{{ECHO}, "{field}": {value}}}'))
    assert (found["type"], found["loc"]) == ("less_than_equal", ["body", field])


async def test_defer_by_and_expires_of_exactly_the_deferral_limit_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    limit = MAX_DEFERRAL_SECONDS
    raw = f'{{{ECHO}, "defer_by": {limit - 1}, "expires": {limit}}}'  # (it must outlast it)
    job = (await post(client, "/v1/jobs", raw)).json()
    assert job["status"] == "deferred"
    scheduled = datetime.fromisoformat(job["scheduled_for"]) - timedelta(seconds=limit - 1)
    assert abs(scheduled - datetime.fromisoformat(job["enqueue_time"])) < timedelta(seconds=1)


async def test_expires_under_a_millisecond_is_422(client: httpx.AsyncClient) -> None:
    """It would round to no expiry at all, and so silently to the default one."""
    found = error(await post(client, "/v1/jobs", f'{{{ECHO}, "expires": 1e-9}}'))
    assert (found["type"], found["loc"]) == ("greater_than_equal", ["body", "expires"])


async def test_defer_until_year_9999_is_422(client: httpx.AsyncClient) -> None:
    found = error(
        await post(client, "/v1/jobs", f'{{{ECHO}, "defer_until": "9999-12-31T00:00:00Z"}}')
    )
    assert (found["type"], found["loc"]) == ("defer_until_too_far", ["body", "defer_until"])


async def test_defer_until_past_utcs_latest_time_is_422(client: httpx.AsyncClient) -> None:
    raw = f'{{{ECHO}, "defer_until": "9999-12-31T23:59:59-14:00"}}'
    assert error(await post(client, "/v1/jobs", raw))["type"] == "defer_until_too_far"


async def test_defer_until_past_the_deferral_limit_is_422(client: httpx.AsyncClient) -> None:
    when = datetime.now(UTC) + timedelta(seconds=MAX_DEFERRAL_SECONDS + 60)
    raw = f'{{{ECHO}, "defer_until": "{when.isoformat()}"}}'
    assert error(await post(client, "/v1/jobs", raw))["loc"] == ["body", "defer_until"]


async def test_defer_until_before_utcs_earliest_time_runs_now(client: httpx.AsyncClient) -> None:
    """`0001-01-01T00:00:00+14:00` is in year 0 in UTC: in the past, so "now" (was a 500)."""
    raw = f'{{{ECHO}, "defer_until": "0001-01-01T00:00:00+14:00"}}'
    response = await post(client, "/v1/jobs", raw)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["scheduled_for"]) == ("queued", job["enqueue_time"])


async def test_defer_until_in_the_past_runs_now(client: httpx.AsyncClient) -> None:
    raw = f'{{{ECHO}, "defer_until": "2001-01-01T00:00:00Z"}}'
    assert (await post(client, "/v1/jobs", raw)).json()["status"] == "queued"


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_bulk_retry_since_beyond_utcs_range_is_answered(
    client: httpx.AsyncClient, since: str
) -> None:
    response = await post(client, "/v1/jobs/retry", f'{{"since": "{since}"}}')
    assert response.status_code == 200, response.text


# --- Lone surrogates ------------------------------------------------------------------------


async def test_lone_surrogate_in_message_is_422(client: httpx.AsyncClient) -> None:
    found = error(
        await post(client, "/v1/jobs", r'{"function": "echo", "args": {"message": "\ud800"}}')
    )
    assert (found["type"], found["loc"]) == ("string_unicode", ["body", "args", "message"])
    assert found["input"] == "\\ud800"  # escaped: the body must stay UTF-8


async def test_lone_surrogate_in_an_args_key_is_422(client: httpx.AsyncClient) -> None:
    raw = (
        r'{"function": "webhook", "args": {"url": "http://127.0.0.1/h", "payload": {"\udc00": 1}}}'
    )
    found = error(await post(client, "/v1/jobs", raw))
    assert found["loc"] == ["body", "args", "payload", "\\udc00"]


async def test_lone_surrogate_in_function_name_is_422(client: httpx.AsyncClient) -> None:
    found = error(await post(client, "/v1/jobs", r'{"function": "echo\ud800"}'))
    assert (found["type"], found["loc"]) == ("string_unicode", ["body", "function"])


async def test_lone_surrogate_in_job_id_is_422(client: httpx.AsyncClient) -> None:
    found = error(await post(client, "/v1/jobs", "{" + ECHO + r', "job_id": "a\ud800"}'))
    assert found["loc"] == ["body", "job_id"]


async def test_lone_surrogate_in_batch_item_is_422(client: httpx.AsyncClient) -> None:
    raw = r'{"jobs": [{"function": "echo", "args": {"message": "\ud800"}}, {"function": "\udfff"}]}'
    response = await post(client, "/v1/jobs/batch", raw)
    assert response.status_code == 200, response.text
    details = [r["detail"][0] for r in response.json()["results"]]
    assert [d["loc"] for d in details] == [
        ["body", "jobs", 0, "args", "message"],
        ["body", "jobs", 1, "function"],
    ]
    assert {d["type"] for d in details} == {"string_unicode"}


async def test_lone_surrogate_in_bulk_retry_filter_is_422(client: httpx.AsyncClient) -> None:
    found = error(await post(client, "/v1/jobs/retry", r'{"function": "\ud800"}'))
    assert (found["type"], found["loc"]) == ("string_unicode", ["body", "function"])


# --- Integer range and depth ----------------------------------------------------------------


@pytest.mark.parametrize("number", [str(2**63), str(-(2**63) - 1), "1" + "0" * 40])
async def test_integer_outside_64_bits_in_payload_is_422(
    client: httpx.AsyncClient, number: str
) -> None:
    found = error(await post(client, "/v1/jobs", "{%s}" % (WEBHOOK % f'{{"n": {number}}}')))
    assert (found["type"], found["loc"]) == ("int_range", ["body", "args", "payload", "n"])


async def test_payload_nested_past_the_depth_limit_is_422(client: httpx.AsyncClient) -> None:
    """args is one level, so a payload of MAX_DEPTH levels is one too many (was a 500 from
    253 levels on: orjson's limit)."""
    for levels in (MAX_DEPTH, 100, 253):
        found = error(await post(client, "/v1/jobs", "{%s}" % (WEBHOOK % nested_payload(levels))))
        assert found["type"] == "json_too_deep"
        assert found["loc"] == ["body", "args", "payload", *["a"] * (MAX_DEPTH - 1)]


async def test_payload_at_the_depth_limit_is_accepted(client: httpx.AsyncClient) -> None:
    raw = "{%s}" % (WEBHOOK % nested_payload(MAX_DEPTH - 1))
    assert (await post(client, "/v1/jobs", raw)).status_code == 202


async def test_body_nested_past_pythons_parser_is_a_declared_400(client: httpx.AsyncClient) -> None:
    raw = "{%s}" % (WEBHOOK % ("[" * 4900 + "]" * 4900))  # (under the test's body limit)
    response = await post(client, "/v1/jobs", raw)
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


# --- Odd bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["[]", '"echo"', "42", "null", ""])
async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, raw: str) -> None:
    found = error(await post(client, "/v1/jobs", raw))
    assert found["loc"] == ["body"]


async def test_a_body_that_is_not_utf8_is_a_declared_400(client: httpx.AsyncClient) -> None:
    response = await post(client, "/v1/jobs", b'{"function": "echo", "args": {"message": "\xff"}}')
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"]
)
async def test_a_body_of_another_content_type_is_422(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        "/v1/jobs", content=b"function=echo", headers={"content-type": content_type}
    )
    assert error(response)["loc"] == ["body"]


async def test_a_deep_input_is_not_echoed(client: httpx.AsyncClient) -> None:
    found = error(
        await post(client, "/v1/jobs", '{"function": "echo", "args": %s}' % ("[" * 100 + "]" * 100))
    )
    assert (found["loc"], "input" in found) == (["body", "args"], False)


async def test_a_huge_input_is_not_echoed(client: httpx.AsyncClient) -> None:
    response = await post(
        client, "/v1/jobs", '{"function": "echo", "args": [%s]}' % ("1," * 3000 + "1")
    )
    found = error(response)
    assert found["loc"] == ["body", "args"]
    assert "input" not in found
    assert len(response.content) < 1000


# --- Query strings and paths ----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["1e309", "nan", str(2**70), "-1", "x"])
async def test_a_list_limit_that_is_not_a_small_integer_is_422(
    client: httpx.AsyncClient, limit: str
) -> None:
    found = error(await client.get("/v1/jobs", params={"limit": limit}))
    assert found["loc"] == ["query", "limit"]


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "1e309"])
async def test_a_non_finite_result_timeout_is_422(client: httpx.AsyncClient, timeout: str) -> None:
    found = error(await client.get("/v1/jobs/x/result", params={"timeout": timeout}))
    assert (found["type"], found["loc"]) == ("finite_number", ["query", "timeout"])


@pytest.mark.parametrize(
    "path", ["/v1/jobs/%ED%A0%80", "/v1/jobs/%FF%FE", "/v1/cron/%ED%A0%80/run"]
)
async def test_a_path_that_is_not_utf8_is_404(client: httpx.AsyncClient, path: str) -> None:
    method = "POST" if path.endswith("/run") else "GET"
    response = await client.request(method, path)
    assert response.status_code == 404
    assert response.json()["detail"]


async def test_a_filter_that_is_not_utf8_finds_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs?function=%ED%A0%80&status=failed")
    assert response.json() == {"jobs": [], "next_cursor": None}


async def test_an_unknown_query_parameter_is_ignored(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/jobs?bogus=1&limit=1")).status_code == 200


async def test_expires_before_the_deferral_ends_is_422(client: httpx.AsyncClient) -> None:
    """The job could never run: it would expire before it is due."""
    body = {"function": "echo", "args": {"message": "m"}, "defer_by": 60, "expires": 1}
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert "must be longer than the deferral" in response.json()["detail"][0]["msg"]
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {"function": "echo", "args": {"message": "m"}, "defer_until": until, "expires": 1}
    assert (await client.post("/v1/jobs", json=body)).status_code == 422


async def test_a_webhook_timeout_under_a_tenth_of_a_second_is_422(
    client: httpx.AsyncClient,
) -> None:
    args = {"url": "https://example.com/h", "payload": {}, "timeout": 5e-324}
    response = await client.post("/v1/jobs", json={"function": "webhook", "args": args})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "args", "timeout"]


# --- Reserved job ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id", ["cron:queue_stats:1790000000123", "cron:sweep:manual:1790000000", "CRON:x"]
)
async def test_a_job_id_in_the_scheduled_runs_namespace_is_422(
    client: httpx.AsyncClient, job_id: str
) -> None:
    found = error(await post(client, "/v1/jobs", "{" + ECHO + f', "job_id": "{job_id}"}}'))
    assert (found["type"], found["loc"]) == ("job_id_reserved", ["body", "job_id"])
    assert "'cron:'" in found["msg"]
    assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 404  # nothing written


async def test_a_reserved_job_id_in_a_batch_is_422_for_that_item_only(
    client: httpx.AsyncClient,
) -> None:
    raw = '{"jobs": [{"function": "echo", "job_id": "cron:x:1"}, {' + ECHO + "}]}"
    results = (await post(client, "/v1/jobs/batch", raw)).json()["results"]
    assert results[0]["status_code"] == 422
    assert results[0]["detail"][0]["type"] == "job_id_reserved"
    assert results[1]["status_code"] == 202


async def test_an_id_that_only_mentions_cron_is_accepted(client: httpx.AsyncClient) -> None:
    for job_id in ("cronjob-1", "nightly:cron:1"):
        response = await post(client, "/v1/jobs", "{" + ECHO + f', "job_id": "{job_id}"}}')
        assert response.status_code == 202, response.text


def test_every_scheduled_jobs_ids_are_in_the_reserved_namespace() -> None:
    """arq names a scheduled run `<job name>:<slot>`: each name must be one clients cannot take."""
    names = [definition.name for definition, _ in scheduled_jobs(Settings())]
    assert names
    assert all(name.startswith(RESERVED_JOB_ID_PREFIXES) for name in names), names
    assert manual_run_id(names[0]).startswith(RESERVED_JOB_ID_PREFIXES)
