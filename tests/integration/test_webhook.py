"""The webhook job against a local HTTP server, through the real API and worker."""

import time
import uuid

import httpx
import redis

from jobqueue.serialization import serialize
from tests.helpers.api import enqueue, outcome
from tests.helpers.webhook_target import WebhookTarget


def hook_name() -> str:
    return f"hook-{uuid.uuid4().hex[:8]}"


async def test_retried_on_500_and_503_then_succeeds(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    name = hook_name()
    webhook_target.script(name, [500, 503, 200])
    job = await enqueue(
        api,
        "webhook",
        args={"url": webhook_target.url(name), "payload": {"order": 7}, "headers": {"X-Sig": "s"}},
    )
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["tries"], done["result"]) == ("succeeded", 3, {"status_code": 200})
    hits = webhook_target.hits[name]
    assert len(hits) == 3
    assert hits[0]["body"] == {"order": 7}
    assert hits[0]["headers"]["X-Sig"] == "s"
    assert hits[0]["headers"]["Content-Type"] == "application/json"


async def test_a_404_fails_at_once(api: httpx.AsyncClient, webhook_target: WebhookTarget) -> None:
    name = hook_name()
    webhook_target.script(name, [404])
    job = await enqueue(api, "webhook", args={"url": webhook_target.url(name), "payload": {}})
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["tries"]) == ("failed", 1)
    assert done["error"]["type"] == "WebhookRejected"
    assert "404" in done["error"]["message"]
    assert len(webhook_target.hits[name]) == 1


async def test_persistent_5xx_fails_after_max_tries_with_the_last_error(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    name = hook_name()
    webhook_target.script(name, [502])
    job = await enqueue(api, "webhook", args={"url": webhook_target.url(name), "payload": {}})
    done = await outcome(api, job["job_id"])
    max_tries = next(
        f["max_tries"] for f in (await api.get("/v1/functions")).json() if f["name"] == "webhook"
    )
    assert (done["status"], done["tries"]) == ("failed", max_tries)
    assert done["error"] == {"type": "WebhookUnavailable", "message": "127.0.0.1 answered 502"}
    assert len(webhook_target.hits[name]) == max_tries


async def test_a_loopback_destination_is_refused_without_the_allow_list(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    # Only "127.0.0.1" is allow-listed: "localhost" resolves to loopback and is refused by the
    # worker at once; a literal private address is refused at enqueue.
    name = hook_name()
    job = await enqueue(
        api, "webhook", args={"url": webhook_target.url(name, host="localhost"), "payload": {}}
    )
    done = await outcome(api, job["job_id"])
    assert (done["status"], done["tries"]) == ("failed", 1)
    assert done["error"]["type"] == "DestinationNotAllowed"
    assert name not in webhook_target.hits
    refused = await api.post(
        "/v1/jobs",
        json={
            "function": "webhook",
            "args": {"url": webhook_target.url(name, "127.0.0.2"), "payload": {}},
        },
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "args", "url"]


async def test_the_target_gets_one_content_length_no_transfer_encoding_and_the_right_host(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    name = hook_name()
    job = await enqueue(
        api,
        "webhook",
        args={"url": webhook_target.url(name), "payload": {"n": 1}, "headers": {"X-Sig": "s"}},
    )
    assert (await outcome(api, job["job_id"]))["status"] == "succeeded"
    (hit,) = webhook_target.hits[name]
    names = [header.lower() for header, _ in hit["raw_headers"]]
    assert names.count("content-length") == 1
    assert "transfer-encoding" not in names
    assert names.count("host") == 1
    assert hit["headers"]["Host"] == f"127.0.0.1:{webhook_target.port}"
    assert hit["headers"]["Content-Type"] == "application/json"
    assert hit["body"] == {"n": 1}


async def test_framing_headers_and_crlf_are_refused_at_enqueue(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    name = hook_name()
    for headers, loc in [
        (
            {"Transfer-Encoding": "chunked"},
            ["body", "args", "headers", "Transfer-Encoding", "[key]"],
        ),
        ({"Content-Length": "0"}, ["body", "args", "headers", "Content-Length", "[key]"]),
        ({"Host": "elsewhere"}, ["body", "args", "headers", "Host", "[key]"]),
        ({"X-Sig": "s\r\nX-Injected: 1"}, ["body", "args", "headers", "X-Sig"]),
    ]:
        response = await api.post(
            "/v1/jobs",
            json={
                "function": "webhook",
                "args": {"url": webhook_target.url(name), "payload": {}, "headers": headers},
            },
        )
        assert response.status_code == 422, headers
        assert response.json()["detail"][0]["loc"] == loc
    assert name not in webhook_target.hits


async def test_a_stored_job_with_bad_headers_fails_once_without_a_request(
    api: httpx.AsyncClient, redis_client: redis.Redis, webhook_target: WebhookTarget
) -> None:
    # As a job planted in Redis, or enqueued by a version that did not check headers, would be.
    name = hook_name()
    job_id = f"planted-{name}"
    args = {"url": webhook_target.url(name), "payload": {}, "headers": {"X-Sig": "s\r\nX-I: 1"}}
    now = int(time.time() * 1000)
    redis_client.set(
        f"arq:job:{job_id}", serialize({"t": 1, "f": "webhook", "a": [], "k": args, "et": now})
    )
    redis_client.zadd("arq:queue", {job_id: now})
    done = await outcome(api, job_id)
    assert (done["status"], done["tries"]) == ("failed", 1)
    assert done["error"]["type"] == "InvalidJobArgs"
    assert "headers.X-Sig" in done["error"]["message"]
    assert name not in webhook_target.hits


async def test_nat64_and_6to4_loopback_are_refused_at_enqueue(
    api: httpx.AsyncClient, webhook_target: WebhookTarget
) -> None:
    for host in ("[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::127.0.0.1]"):
        response = await api.post(
            "/v1/jobs",
            json={
                "function": "webhook",
                "args": {"url": f"http://{host}:{webhook_target.port}/x", "payload": {}},
            },
        )
        assert response.status_code == 422, host
        assert response.json()["detail"][0]["loc"] == ["body", "args", "url"]
