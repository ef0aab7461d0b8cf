import asyncio
import ipaddress
import socket
from typing import Any

import pytest
from pydantic import ValidationError

from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import SETTINGS_CONTEXT_KEY
from jobqueue.jobs.destinations import (
    DestinationNotAllowed,
    check_literal_host,
    is_allowed,
    is_public,
    resolve_public,
)
from jobqueue.jobs.webhook import WebhookArgs, WebhookResult, webhook
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from tests.helpers.webhook_target import recording_client


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
        check_literal_host(host, 80, frozenset())


def test_public_addresses_and_names_pass_the_literal_check() -> None:
    check_literal_host("93.184.215.14", 80, frozenset())
    check_literal_host("example.com", 80, frozenset())


def test_allow_listed_hosts_pass() -> None:
    check_literal_host("127.0.0.1", 80, frozenset({"127.0.0.1"}))


def test_nat64_loopback_is_not_public() -> None:
    assert not is_public(ipaddress.ip_address("64:ff9b::7f00:1"))  # 127.0.0.1 via NAT64
    assert not is_public(ipaddress.ip_address("64:ff9b::a00:1"))  # 10.0.0.1


def test_nat64_of_a_public_address_is_public() -> None:
    assert is_public(ipaddress.ip_address("64:ff9b::5db8:d70e"))  # 93.184.215.14


def test_local_use_nat64_is_not_public() -> None:
    # Where its IPv4 sits depends on the network's prefix length: refused whatever it embeds.
    assert not is_public(ipaddress.ip_address("64:ff9b:1::5db8:d70e"))
    assert not is_public(ipaddress.ip_address("64:ff9b:1:7f00:0:100::"))  # 127.0.0.1 at /48


def test_6to4_of_loopback_is_not_public() -> None:
    assert not is_public(ipaddress.ip_address("2002:7f00:1::"))
    assert not is_public(ipaddress.ip_address("2002:c0a8:1::1"))  # 192.168.0.1
    assert is_public(ipaddress.ip_address("2002:5db8:d70e::1"))


def test_ipv4_compatible_loopback_is_not_public() -> None:
    assert not is_public(ipaddress.ip_address("::127.0.0.1"))
    assert not is_public(ipaddress.ip_address("::10.0.0.1"))


def test_ipv4_mapped_and_translated_addresses_are_judged_by_their_ipv4() -> None:
    assert not is_public(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not is_public(ipaddress.ip_address("::ffff:0:127.0.0.1"))
    assert is_public(ipaddress.ip_address("::ffff:93.184.215.14"))


def _teredo(server: str, client: str) -> ipaddress.IPv6Address:
    """A Teredo address: 2001::/32, the server's IPv4, flags and port, the client's IPv4
    obfuscated (inverted) in the last 32 bits."""
    obfuscated = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    value = (0x2001 << 112) | (int(ipaddress.IPv4Address(server)) << 64) | obfuscated
    return ipaddress.IPv6Address(value)


def test_teredo_is_judged_by_its_server_and_client() -> None:
    assert not is_public(_teredo("93.184.215.14", "127.0.0.1"))
    assert not is_public(_teredo("10.0.0.1", "93.184.215.14"))
    assert is_public(_teredo("93.184.215.14", "93.184.215.15"))


@pytest.mark.parametrize(
    "host", ["[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::127.0.0.1]", "[::ffff:10.0.0.1]"]
)
def test_embedded_private_ipv4_is_refused_at_enqueue(host: str) -> None:
    with pytest.raises(ValidationError, match="not a public address"):
        WebhookArgs.model_validate({"url": f"http://{host}/hook", "payload": {}})


async def test_a_name_resolving_to_nat64_loopback_is_refused(resolver: list[str]) -> None:
    resolver[:] = ["64:ff9b::7f00:1"]
    with pytest.raises(DestinationNotAllowed, match="resolves to 64:ff9b::7f00:1"):
        await resolve_public("example.com", 443, frozenset())


def test_allow_list_host_allows_any_port() -> None:
    for port in (80, 8080, 22):
        assert is_allowed("hooks.internal", port, frozenset({"hooks.internal"}))


def test_allow_list_host_port_allows_only_that_port() -> None:
    allowed = Settings(webhook_allowed_hosts="127.0.0.1:8080,[::1]:9000").webhook_allowed_hosts
    assert is_allowed("127.0.0.1", 8080, allowed)
    assert not is_allowed("127.0.0.1", 8081, allowed)
    assert is_allowed("::1", 9000, allowed)  # as httpx gives an IPv6 host: without brackets
    assert not is_allowed("::1", 80, allowed)
    check_literal_host("127.0.0.1", 8080, allowed)
    with pytest.raises(DestinationNotAllowed):
        check_literal_host("127.0.0.1", 22, allowed)


def test_allow_list_port_applies_at_enqueue(settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhook_allowed_hosts": frozenset({"127.0.0.1:8080"})})
    context = {SETTINGS_CONTEXT_KEY: allowed}
    WebhookArgs.model_validate({"url": "http://127.0.0.1:8080/", "payload": {}}, context=context)
    with pytest.raises(ValidationError, match="not a public address"):
        WebhookArgs.model_validate(
            {"url": "http://127.0.0.1:6379/", "payload": {}}, context=context
        )


async def test_an_allow_listed_host_port_is_not_resolved_on_that_port_only() -> None:
    allowed = frozenset({"localhost:8080"})
    assert await resolve_public("localhost", 8080, allowed) is None
    with pytest.raises(DestinationNotAllowed, match="resolves to"):
        await resolve_public("localhost", 8081, allowed)


def test_port_zero_is_422() -> None:
    with pytest.raises(ValidationError, match="port 0") as caught:
        WebhookArgs.model_validate({"url": "http://example.com:0/hook", "payload": {}})
    assert caught.value.errors()[0]["loc"] == ("url",)


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
    client, sent = recording_client()
    async with client as http:
        ctx = JobContext("hook-1", 1, 5, settings, redis, http, JobTracker(settings))
        args = WebhookArgs(
            url="https://hooks.example.com:8443/in?x=1",
            payload={"a": 1},
            headers={"X-Token": "t"},
        )
        result = await webhook.func(ctx, args)
    assert isinstance(result, WebhookResult)
    assert result.status_code == 204
    (request,) = sent
    assert str(request.url) == f"https://{PUBLIC}:8443/in?x=1"  # no name left to resolve again
    assert request.headers["host"] == "hooks.example.com:8443"  # the server still sees the name
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # and TLS checks it
    assert request.headers["x-token"] == "t"
