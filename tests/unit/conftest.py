"""Unit fixtures: no network. Redis is fakeredis behind a real `ArqRedis`."""

from collections.abc import AsyncIterator

import fakeredis
import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import ConnectionPool

from jobqueue.api.app import create_app
from jobqueue.client import TrackedRedis
from jobqueue.connections import client_over
from jobqueue.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings(
        redis_url="redis://fake:6379/0",
        max_body_bytes=10_000,
        webhook_allowed_hosts=frozenset({"127.0.0.1"}),
        log_format="console",
    )


@pytest.fixture
def fake_server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis(fake_server: fakeredis.FakeServer, settings: Settings) -> TrackedRedis:
    pool = ConnectionPool(connection_class=fakeredis.FakeAsyncRedisConnection, server=fake_server)
    return client_over(pool, settings)


@pytest.fixture
async def client(settings: Settings, redis: TrackedRedis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, connect=lambda _: redis)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://test",
        ) as client,
    ):
        yield client
