import asyncio
import socket
from typing import Any

import httpx
import pytest

from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.destinations import (
    DestinationNotAllowed,
    check_literal_host,
    resolve_public,
)
from jobqueue.jobs.webhook import WebhookArgs, WebhookResult, webhook
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
    ],
)
def test_non_public_literal_addresses_are_refused(host: str) -> None:
    with pytest.raises(DestinationNotAllowed):
        check_literal_host(host, frozenset())


def test_public_addresses_and_names_pass_the_literal_check() -> None:
    check_literal_host("93.184.215.14", frozenset())
    check_literal_host("example.com", frozenset())


def test_allow_listed_hosts_pass() -> None:
    check_literal_host("127.0.0.1", frozenset({"127.0.0.1"}))


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(DestinationNotAllowed, match="resolves to"):
        await resolve_public("localhost", 80, frozenset({"127.0.0.1"}))


async def test_an_allow_listed_name_is_not_resolved() -> None:
    assert await resolve_public("localhost", 80, frozenset({"localhost"})) is None


PUBLIC = "93.184.215.14"


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name resolves to the addresses in the returned list (edit it per test)."""
    answers = [PUBLIC]

    async def getaddrinfo(
        self: asyncio.AbstractEventLoop, host: str, port: int, **kwargs: Any
    ) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)
    return answers


async def test_the_address_to_connect_to_is_the_first_one_checked(resolver: list[str]) -> None:
    resolver[:] = [PUBLIC, "93.184.215.15"]
    assert await resolve_public("example.com", 443, frozenset()) == PUBLIC


async def test_a_name_with_any_private_address_is_refused(resolver: list[str]) -> None:
    resolver[:] = [PUBLIC, "10.0.0.7"]
    with pytest.raises(DestinationNotAllowed, match=r"resolves to 10\.0\.0\.7"):
        await resolve_public("example.com", 443, frozenset())


async def test_the_webhook_connects_to_the_address_it_checked_not_to_a_new_lookup(
    resolver: list[str], redis: TrackedRedis, settings: Settings
) -> None:
    sent: list[httpx.Request] = []

    def target(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(target)) as http:
        ctx = JobContext("hook-1", 1, 5, settings, redis, http, JobTracker(settings))
        args = WebhookArgs(
            url="https://hooks.example.com:8443/in?x=1",
            payload={"a": 1},
            headers={"Host": "elsewhere.example", "X-Token": "t"},
        )
        result = await webhook.func(ctx, args)
    assert isinstance(result, WebhookResult)
    assert result.status_code == 204
    (request,) = sent
    assert str(request.url) == f"https://{PUBLIC}:8443/in?x=1"  # no name left to resolve again
    assert request.headers["host"] == "hooks.example.com:8443"  # the server still sees the name
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # and TLS checks it
    assert request.headers["x-token"] == "t"
