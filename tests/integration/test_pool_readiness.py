"""The pool's readiness check on checkout (`jobqueue.store.wire.ReadinessCheckedParser`), on a real
Redis: a dirty or closed connection is still never handed out, and the check does no I/O."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobqueue.store.client import TrackedRedis
from tests.helpers import eventually
from tests.helpers.services import Stack, connect


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[TrackedRedis]:
    client = connect(stack.redis.url)
    await client.ping()
    yield client
    await client.aclose()


def _only_pooled_connection(client: TrackedRedis) -> Any:
    available: list[Any] = client.connection_pool._available_connections
    assert len(available) == 1
    return available[0]


async def test_a_connection_holding_an_unread_reply_is_never_reused(redis: TrackedRedis) -> None:
    await redis.set("readiness:key", "fresh")
    connection = _only_pooled_connection(redis)
    await connection.send_command("ECHO", "stale")  # a reply nobody will read
    await eventually(lambda: connection._reader._buffer, what="the stale reply to arrive")
    assert await connection.can_read_destructive()
    assert await redis.get("readiness:key") == b"fresh"  # not the stale "stale"


async def test_a_connection_the_server_closed_is_replaced(
    redis: TrackedRedis, stack: Stack
) -> None:
    connection = _only_pooled_connection(redis)
    client_id = await redis.client_id()
    with stack.redis.client() as admin:
        admin.client_kill_filter(_id=client_id)
    await eventually(connection._reader.at_eof, what="the close to arrive")
    assert await redis.ping()
    assert await redis.client_id() != client_id


async def test_checking_a_clean_connection_does_no_io(redis: TrackedRedis) -> None:
    connection = _only_pooled_connection(redis)
    check = connection.can_read_destructive()
    with pytest.raises(StopIteration) as done:
        check.send(None)  # finished at its first step: it never waited on the socket
    assert done.value.value is False
