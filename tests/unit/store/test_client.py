"""The service's Redis client: what it does around arq's own writes."""

import pytest
import structlog
from redis.asyncio import ConnectionPool

from jobqueue.store import keys
from jobqueue.store.client import TrackedRedis


async def test_an_unreadable_result_write_still_happens_and_is_logged(redis: TrackedRedis) -> None:
    with structlog.testing.capture_logs() as logs:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.result("odd"), b'{"s": true}')  # no id, try or times
            await pipe.execute()
    assert await redis.get(keys.result("odd")) == b'{"s": true}'  # arq's write is arq's
    [line] = [entry for entry in logs if entry["event"] == "tracking.result_unreadable"]
    assert line["key"] == keys.result("odd")
    assert line["log_level"] == "error"


async def test_closing_the_client_closes_its_pool(
    redis: TrackedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []

    async def disconnect(self: ConnectionPool, inuse_connections: bool = True) -> None:
        closed.append(inuse_connections)

    monkeypatch.setattr(ConnectionPool, "disconnect", disconnect)
    await redis.ping()
    await redis.aclose()
    assert closed == [True]
