"""The webhook's request is well-formed: its headers are checked at enqueue (a 422 naming the
header) and again before a stored job runs; the job owns framing, `Host` and `Content-Type`."""

import re
from typing import Any

import httpx
import pytest
import structlog

from jobqueue.access.secrets import Cipher, parse_keys
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.webhook import (
    WebhookArgs,
    WebhookMalformed,
    WebhookUnavailable,
    webhook,
)
from jobqueue.jobs.webhook_headers import (
    MAX_HEADER_VALUE_BYTES,
    MAX_HEADERS,
    MAX_HEADERS_TOTAL_BYTES,
)
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.worker.execution import InvalidJobArgs, _validated
from tests.helpers.secret_keys import SECRETS_KEY
from tests.helpers.webhook_target import recording_client

TARGET = "http://127.0.0.1:9/hook"  # allow-listed in the unit settings


async def enqueue_with(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/v1/jobs",
        json={"function": "webhook", "args": {"url": TARGET, "payload": {}, "headers": headers}},
    )


def refusal(response: httpx.Response) -> tuple[list[Any], str]:
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    return problem["loc"], problem["msg"]


async def test_crlf_in_header_value_is_422(client: httpx.AsyncClient) -> None:
    loc, msg = refusal(await enqueue_with(client, {"X-Sig": "s\r\nX-Injected: 1"}))
    assert loc == ["body", "args", "headers", "X-Sig"]
    assert "CR" in msg
    assert "LF" in msg


async def test_lf_in_header_value_is_422(client: httpx.AsyncClient) -> None:
    loc, msg = refusal(await enqueue_with(client, {"X-Sig": "s\nX-Injected: 1"}))
    assert loc == ["body", "args", "headers", "X-Sig"]
    assert "LF" in msg


async def test_nul_in_header_value_is_422(client: httpx.AsyncClient) -> None:
    loc, msg = refusal(await enqueue_with(client, {"X-Sig": "s\x00"}))
    assert loc == ["body", "args", "headers", "X-Sig"]
    assert "NUL" in msg


async def test_other_control_characters_in_a_header_value_are_422(
    client: httpx.AsyncClient,
) -> None:
    _, msg = refusal(await enqueue_with(client, {"X-Sig": "s\x1bt"}))
    assert "U+001B" in msg


async def test_a_tab_inside_a_header_value_is_accepted(client: httpx.AsyncClient) -> None:
    response = await enqueue_with(client, {"X-Sig": "a\tb c"})
    assert response.status_code == 202


async def test_non_ascii_header_value_is_422(client: httpx.AsyncClient) -> None:
    _, msg = refusal(await enqueue_with(client, {"X-Name": "café"}))
    assert "non-ASCII" in msg


async def test_leading_whitespace_in_header_value_is_422(client: httpx.AsyncClient) -> None:
    _, msg = refusal(await enqueue_with(client, {"X-Sig": " s"}))
    assert "whitespace" in msg


@pytest.mark.parametrize("name", ["X Sig", "X-Sig:", "", "\uff38", "X\r\nY"])
async def test_a_header_name_that_is_not_a_token_is_422(
    client: httpx.AsyncClient, name: str
) -> None:
    loc, msg = refusal(await enqueue_with(client, {name: "v"}))
    assert loc == ["body", "args", "headers", name, "[key]"]
    assert "token" in msg


async def test_transfer_encoding_header_is_refused(client: httpx.AsyncClient) -> None:
    loc, msg = refusal(await enqueue_with(client, {"Transfer-Encoding": "chunked"}))
    assert loc == ["body", "args", "headers", "Transfer-Encoding", "[key]"]
    assert "Transfer-Encoding is set by the webhook job" in msg


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "content-length",
        "CONNECTION",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Upgrade",
        "Expect",
        "Proxy-Authorization",
        "HTTP2-Settings",
    ],
)
async def test_framing_and_hop_by_hop_headers_are_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    loc, msg = refusal(await enqueue_with(client, {name: "x"}))
    assert loc == ["body", "args", "headers", name, "[key]"]
    assert f"{name} is set by the webhook job" in msg


@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"]
)
async def test_a_content_type_that_is_not_json_is_422(
    client: httpx.AsyncClient, media_type: str
) -> None:
    loc, msg = refusal(await enqueue_with(client, {"Content-Type": media_type}))
    assert loc == ["body", "args", "headers"]
    assert "JSON media type" in msg


async def test_content_encoding_is_refused(client: httpx.AsyncClient) -> None:
    loc, _ = refusal(await enqueue_with(client, {"Content-Encoding": "gzip"}))
    assert loc == ["body", "args", "headers", "Content-Encoding", "[key]"]


async def test_a_json_content_type_is_sent_instead_of_ours(
    settings: Settings, redis: TrackedRedis
) -> None:
    media_type = "application/cloudevents+json; charset=utf-8"
    client, sent = recording_client()
    async with client as http:
        args = _args(settings, headers={"content-type": media_type})
        await webhook.func(_context(settings, redis, http), args)
    (request,) = sent
    assert request.headers.get_list("content-type") == [media_type]


async def test_a_header_value_over_the_size_limit_is_422(client: httpx.AsyncClient) -> None:
    _, msg = refusal(await enqueue_with(client, {"X-Big": "v" * (MAX_HEADER_VALUE_BYTES + 1)}))
    assert f"at most {MAX_HEADER_VALUE_BYTES} bytes" in msg


async def test_too_many_headers_is_422(client: httpx.AsyncClient) -> None:
    loc, msg = refusal(await enqueue_with(client, {f"X-{i}": "v" for i in range(MAX_HEADERS + 1)}))
    assert loc == ["body", "args", "headers"]
    assert f"at most {MAX_HEADERS} headers" in msg


async def test_headers_over_the_total_size_limit_are_422(client: httpx.AsyncClient) -> None:
    value = "v" * (MAX_HEADERS_TOTAL_BYTES // 3)
    loc, msg = refusal(await enqueue_with(client, {"X-1": value, "X-2": value, "X-3": value}))
    assert loc == ["body", "args", "headers"]
    assert f"at most {MAX_HEADERS_TOTAL_BYTES} bytes in all" in msg


async def test_one_header_given_twice_in_different_cases_is_422(
    client: httpx.AsyncClient,
) -> None:
    _, msg = refusal(await enqueue_with(client, {"X-Sig": "1", "x-sig": "2"}))
    assert "the same header" in msg


def test_a_stored_job_with_bad_headers_fails_as_invalid_args(settings: Settings) -> None:
    # (a job planted or enqueued by an older version: permanent, never retried as transient)
    definition = webhook
    stored = {"url": TARGET, "payload": {}, "headers": {"X-Sig": "a\r\nb", "Host": "evil"}}
    with pytest.raises(InvalidJobArgs, match=r"headers\.X-Sig.*CR") as caught:
        _validated(definition, stored, settings)
    assert "headers.Host.[key]" in str(caught.value)
    assert not isinstance(caught.value, WebhookUnavailable)


def _args(settings: Settings, **fields: Any) -> WebhookArgs:
    args = webhook.validate_args({"url": TARGET, "payload": {}, **fields}, settings)
    assert isinstance(args, WebhookArgs)
    return args


def _context(settings: Settings, redis: TrackedRedis, http: httpx.AsyncClient) -> JobContext:
    return JobContext("hook-1", 1, 5, settings, redis, http, JobTracker(settings))


async def test_a_header_the_http_client_refuses_fails_permanently(
    settings: Settings, redis: TrackedRedis
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'secret\\r\\n'")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        args = _args(settings)
        with pytest.raises(WebhookMalformed) as caught:
            await webhook.func(_context(settings, redis, http), args)
    assert "secret" not in str(caught.value)


async def test_a_connection_failure_does_not_say_why(
    settings: Settings, redis: TrackedRedis
) -> None:
    # Refused and reset read the same to the enqueuer: its errors cannot map a host's ports.
    messages = []
    for failure in (httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadError("")):

        def fail(request: httpx.Request, failure: Exception = failure) -> httpx.Response:
            raise failure

        async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
            with pytest.raises(WebhookUnavailable) as caught:
                await webhook.func(_context(settings, redis, http), _args(settings))
        messages.append(str(caught.value))
    assert messages == ["could not reach 127.0.0.1"] * 2


async def test_the_operator_log_says_why_a_connection_failed(
    settings: Settings, redis: TrackedRedis
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with structlog.testing.capture_logs() as logs, pytest.raises(WebhookUnavailable):
            await webhook.func(_context(settings, redis, http), _args(settings))
    (line,) = [line for line in logs if line["event"] == "webhook.unreachable"]
    assert (line["host"], line["port"]) == ("127.0.0.1", 9)
    assert "Connection refused" in line["error"]


async def test_the_request_carries_our_framing_and_content_type_only(
    settings: Settings, redis: TrackedRedis
) -> None:
    client, sent = recording_client()
    async with client as http:
        args = _args(settings, payload={"a": 1}, headers={"X-Sig": "s"})
        await webhook.func(_context(settings, redis, http), args)
    (request,) = sent
    names = [name.lower() for name, _ in request.headers.multi_items()]
    assert names.count("content-length") == 1
    assert "transfer-encoding" not in names
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == "127.0.0.1:9"


def test_the_args_schema_says_what_headers_may_be() -> None:
    # (so generated clients and fuzzers build headers the enqueue accepts)
    schema = WebhookArgs.model_json_schema()["properties"]["headers"]
    assert schema["maxProperties"] == MAX_HEADERS
    assert schema["additionalProperties"] is False
    ((name_pattern, value_schema),) = schema["patternProperties"].items()
    assert re.fullmatch(name_pattern, "X-Sig")
    assert not re.fullmatch(name_pattern, "X Sig")
    assert value_schema["maxLength"] == MAX_HEADER_VALUE_BYTES
    assert re.fullmatch(value_schema["pattern"], "a\tb c")
    assert not re.fullmatch(value_schema["pattern"], "a\r\nb")


async def test_a_stored_job_sends_its_sealed_header_values_in_clear(
    settings: Settings, redis: TrackedRedis
) -> None:
    token = "Bearer s3cr3t-6d0f"  # noqa: S105 - planted
    stored = {
        "url": TARGET,
        "payload": {},
        "headers": {"Authorization": Cipher(parse_keys(SECRETS_KEY)).seal(token)},
    }
    http, sent = recording_client()
    async with http:
        await webhook.func(_context(settings, redis, http), _validated(webhook, stored, settings))
    assert sent[0].headers["authorization"] == token


def test_a_header_value_is_a_secret_its_repr_masks(settings: Settings) -> None:
    args = _args(settings, headers={"Authorization": "Bearer s3cr3t"})
    assert "s3cr3t" not in repr(args)
    assert "s3cr3t" not in args.model_dump_json()
