"""Secret args over the API (fakeredis): a webhook's header value is masked in every response,
sealed in every Redis key, refused without a key (422 naming the field and the setting), masked
in 422 echoes; idempotent enqueues recognise the same secret; a re-run carries it sealed."""

import json
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from redis.asyncio import ConnectionPool

from jobqueue.access.secrets import MASK, SEALED_PREFIX, Cipher, parse_keys
from jobqueue.api.app import create_app
from jobqueue.history.tracker import JobTracker
from jobqueue.settings import Settings
from jobqueue.store import keys
from jobqueue.store.arq_format import decode_job
from jobqueue.store.client import TrackedRedis
from tests.helpers.redis_data import plant_result, redis_contents
from tests.helpers.secret_keys import NEXT_SECRETS_KEY, ROTATED, SECRETS_KEY

VALUE = "Bearer s3cr3t-91c4e7"
URL = "http://127.0.0.1:9/hook"  # allow-listed in the unit settings


def webhook(value: str = VALUE, **body: Any) -> dict[str, Any]:
    headers = {"Authorization": value, "X-Plain": "shown"}
    return {"function": "webhook", "args": {"url": URL, "payload": {}, "headers": headers}, **body}


@pytest.fixture
async def api_with(fake_server: fakeredis.FakeServer, settings: Settings) -> AsyncIterator[Any]:
    """`api_with(secrets_key=...)`: another API process over the same Redis, keyed otherwise."""
    managers: list[Any] = []

    async def start(**changes: Any) -> httpx.AsyncClient:
        other = settings.model_copy(update=changes)  # (not validated: a key is a SecretStr)
        pool = ConnectionPool(
            connection_class=fakeredis.FakeAsyncRedisConnection, server=fake_server
        )
        redis = TrackedRedis(pool, other, JobTracker(other))
        manager = LifespanManager(create_app(other, connect=lambda _: redis))
        await manager.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        )
        managers.append((manager, client))
        return client

    yield start
    for manager, client in reversed(managers):
        await client.aclose()
        await manager.__aexit__(None, None, None)


async def enqueued(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/jobs", json=webhook(**body))
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


async def test_the_enqueue_response_job_view_and_listing_mask_the_secret(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/jobs", json=webhook())
    job_id = response.json()["job_id"]
    shown = [
        response,
        await client.get(f"/v1/jobs/{job_id}"),
        await client.get("/v1/jobs"),
        await client.get("/v1/jobs", params={"function": "webhook", "status": "queued"}),
    ]
    for answer in shown:
        assert answer.status_code in (200, 202)
        assert VALUE not in answer.text
        assert "s3cr3t" not in answer.text
        assert SEALED_PREFIX not in answer.text
    headers = response.json()["args"]["headers"]
    assert headers == {"Authorization": MASK, "X-Plain": MASK}  # every header value is secret
    assert shown[2].json()["jobs"][0]["args"]["headers"]["Authorization"] == MASK


async def test_the_batch_response_masks_the_secret(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs/batch", json={"jobs": [webhook(), webhook()]})
    assert response.json()["created"] == 2
    assert VALUE not in response.text
    assert response.json()["results"][0]["job"]["args"]["headers"]["Authorization"] == MASK


async def test_redis_holds_the_secret_only_sealed(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueued(client)
    contents = await redis_contents(redis)
    assert b"s3cr3t" not in contents
    stored = decode_job(await redis.get(keys.job(job["job_id"]))).kwargs
    record = orjson.loads(await redis.hget(keys.record(job["job_id"]), "args"))  # type: ignore[misc]
    for args in (stored, record):
        sealed = args["headers"]["Authorization"]
        assert sealed.startswith(SEALED_PREFIX)
        assert Cipher(parse_keys(SECRETS_KEY)).unseal(sealed, "") == VALUE
        assert args["url"] == URL  # (the rest of the args stays plain JSON)


async def test_without_a_key_a_secret_is_a_422_naming_the_field_and_the_setting(
    api_with: Any,
) -> None:
    client = await api_with(secrets_key=None)
    response = await client.post("/v1/jobs", json=webhook())
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [e["loc"] for e in detail] == [
        ["body", "args", "headers", "Authorization"],
        ["body", "args", "headers", "X-Plain"],
    ]
    assert detail[0]["type"] == "secrets_key_missing"
    assert "JOBQUEUE_SECRETS_KEY" in detail[0]["msg"]
    assert "headers.Authorization" in detail[0]["msg"]
    assert VALUE not in response.text


async def test_without_a_key_a_webhook_without_headers_is_accepted(api_with: Any) -> None:
    client = await api_with(secrets_key=None)
    body = {"function": "webhook", "args": {"url": URL, "payload": {"a": 1}}}
    assert (await client.post("/v1/jobs", json=body)).status_code == 202


async def test_without_a_key_a_secret_in_a_batch_fails_only_its_item(api_with: Any) -> None:
    client = await api_with(secrets_key=None)
    plain = {"function": "echo", "args": {"message": "hi"}}
    response = await client.post("/v1/jobs/batch", json={"jobs": [webhook(), plain]})
    results = response.json()["results"]
    assert [r["status_code"] for r in results] == [422, 202]
    assert results[0]["detail"][0]["loc"] == ["body", "jobs", 0, "args", "headers", "Authorization"]


async def test_a_refused_header_value_is_echoed_masked(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs", json=webhook("Bearer s3cr3t\r\nX-Injected: 1"))
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert (error["loc"], error["input"]) == (["body", "args", "headers", "Authorization"], MASK)
    assert "s3cr3t" not in response.text


async def test_an_args_error_that_echoes_the_whole_args_masks_the_headers(
    client: httpx.AsyncClient,
) -> None:
    body = webhook()
    del body["args"]["url"]
    response = await client.post("/v1/jobs", json=body)
    error = response.json()["detail"][0]
    assert (error["type"], error["loc"]) == ("missing", ["body", "args", "url"])
    assert error["input"]["headers"] == {"Authorization": MASK, "X-Plain": MASK}
    assert error["input"]["payload"] == {}
    assert VALUE not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in webhook().items() if k != "function"},  # (the function is missing)
        webhook(defer_by=5, defer_until="2030-01-01T00:00:00Z"),  # (both deferrals)
    ],
    ids=["missing-function", "both-deferrals"],
)
async def test_an_error_about_the_whole_body_echoes_its_args_masked(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"]["args"] == MASK
    assert VALUE not in response.text


async def test_a_batch_item_error_about_the_whole_item_echoes_its_args_masked(
    client: httpx.AsyncClient,
) -> None:
    item = {k: v for k, v in webhook().items() if k != "function"}
    response = await client.post("/v1/jobs/batch", json={"jobs": [item]})
    assert response.json()["results"][0]["detail"][0]["input"]["args"] == MASK
    assert VALUE not in response.text


async def test_the_same_job_id_and_secret_again_is_200_and_the_same_job(
    client: httpx.AsyncClient,
) -> None:
    first = await enqueued(client, job_id="hook-1")
    again = await client.post("/v1/jobs", json=webhook(job_id="hook-1"))
    assert (again.status_code, again.json()["job_id"]) == (200, first["job_id"])
    assert VALUE not in again.text


async def test_the_same_job_id_with_another_secret_is_a_409(client: httpx.AsyncClient) -> None:
    await enqueued(client, job_id="hook-1")
    other = await client.post("/v1/jobs", json=webhook("Bearer other", job_id="hook-1"))
    assert other.status_code == 409
    assert VALUE not in other.text


async def test_after_rotation_the_same_secret_is_still_the_same_job(
    client: httpx.AsyncClient, api_with: Any
) -> None:
    await enqueued(client, job_id="hook-1")  # sealed under the old key
    rotated = await api_with(secrets_key=SecretStr(ROTATED))
    again = await rotated.post("/v1/jobs", json=webhook(job_id="hook-1"))
    assert again.status_code == 200
    other = await rotated.post("/v1/jobs", json=webhook("Bearer other", job_id="hook-1"))
    assert other.status_code == 409


async def test_a_job_sealed_under_a_dropped_key_is_never_taken_for_the_same_one(
    client: httpx.AsyncClient, api_with: Any
) -> None:
    await enqueued(client, job_id="hook-1")
    newer = await api_with(secrets_key=SecretStr(NEXT_SECRETS_KEY))  # the old key dropped
    assert (await newer.post("/v1/jobs", json=webhook(job_id="hook-1"))).status_code == 409


async def fail_as_stored(redis: TrackedRedis, job_id: str) -> dict[str, Any]:
    """Fail the job with its args as they were stored (sealed), as arq would record it."""
    stored = decode_job(await redis.get(keys.job(job_id))).public_kwargs
    await plant_result(
        redis, job_id, success=False, result=ValueError("boom"), function="webhook", kwargs=stored
    )
    return stored


async def test_a_retry_carries_the_sealed_secret_and_shows_it_masked(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueued(client)
    stored = await fail_as_stored(redis, job["job_id"])
    response = await client.post(f"/v1/jobs/{job['job_id']}/retry")
    assert response.status_code == 202
    assert VALUE not in response.text
    assert response.json()["args"]["headers"]["Authorization"] == MASK
    rerun = decode_job(await redis.get(keys.job(response.json()["job_id"]))).kwargs
    assert rerun["headers"] == stored["headers"]  # the same ciphertext, copied


async def test_a_bulk_retry_carries_the_sealed_secret(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueued(client)
    stored = await fail_as_stored(redis, job["job_id"])
    response = await client.post("/v1/jobs/retry", json={"function": "webhook"})
    (new_id,) = response.json()["job_ids"]
    rerun = decode_job(await redis.get(keys.job(new_id))).kwargs
    assert rerun["headers"]["Authorization"] == stored["headers"]["Authorization"]
    assert (await client.get(f"/v1/jobs/{new_id}")).json()["args"]["headers"] == {
        "Authorization": MASK,
        "X-Plain": MASK,
    }


async def test_a_retry_after_the_arq_keys_expired_carries_the_secret_from_the_record(
    client: httpx.AsyncClient, redis: TrackedRedis
) -> None:
    job = await enqueued(client)
    stored = await fail_as_stored(redis, job["job_id"])
    await redis.delete(keys.result(job["job_id"]), keys.job(job["job_id"]))  # the record alone
    await redis.zrem("arq:queue", job["job_id"])
    response = await client.post(f"/v1/jobs/{job['job_id']}/retry")
    assert response.status_code == 202
    rerun = decode_job(await redis.get(keys.job(response.json()["job_id"]))).kwargs
    assert rerun["headers"] == stored["headers"]


async def test_metrics_carry_no_secret(client: httpx.AsyncClient) -> None:
    await enqueued(client)
    assert VALUE not in (await client.get("/metrics")).text


async def test_the_functions_schema_marks_header_values_secret(client: httpx.AsyncClient) -> None:
    functions = {f["name"]: f for f in (await client.get("/v1/functions")).json()}
    headers = functions["webhook"]["args_schema"]["properties"]["headers"]
    (values,) = headers["patternProperties"].values()
    assert (values["format"], values["writeOnly"]) == ("password", True)


async def test_a_batch_recognises_the_same_secret_and_refuses_another(
    client: httpx.AsyncClient,
) -> None:
    await enqueued(client, job_id="hook-1")
    jobs = [webhook(job_id="hook-1"), webhook("Bearer other", job_id="hook-1")]
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    assert [r["status_code"] for r in response.json()["results"]] == [200, 409]


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/jobs/batch"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_sent_as_json_is_not_echoed(
    client: httpx.AsyncClient, path: str, content_type: str | None
) -> None:
    job = {"function": "webhook", "args": {"url": "http://127.0.0.1:9/h", "payload": {},
           "headers": {"Authorization": "Bearer UNPARSED-SECRET"}}}  # fmt: skip
    body = json.dumps({"jobs": [job]} if path.endswith("batch") else job)
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 422
    assert "UNPARSED-SECRET" not in response.text


async def test_a_misspelt_args_field_echoes_the_mask(client: httpx.AsyncClient) -> None:
    body = {"function": "webhook", "arg": {"headers": {"Authorization": "Bearer TYPO-SECRET"}}}
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert "TYPO-SECRET" not in response.text


async def test_args_copied_from_a_view_are_refused_for_their_masked_secrets(
    client: httpx.AsyncClient,
) -> None:
    args = {"url": "http://127.0.0.1:9/h", "payload": {}, "headers": {"Authorization": MASK}}
    response = await client.post("/v1/jobs", json={"function": "webhook", "args": args})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "secret_is_mask"
    assert error["loc"] == ["body", "args", "headers", "Authorization"]
