"""The webhook job against a local HTTP server, through the real API and worker."""

import uuid

import httpx

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
