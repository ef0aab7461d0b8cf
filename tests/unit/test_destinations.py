import pytest

from jobqueue.jobs.destinations import (
    DestinationNotAllowed,
    check_literal_host,
    ensure_public_destination,
)


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
        await ensure_public_destination("localhost", 80, frozenset({"127.0.0.1"}))


async def test_an_allow_listed_name_is_not_resolved() -> None:
    await ensure_public_destination("localhost", 80, frozenset({"localhost"}))
