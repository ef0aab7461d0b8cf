"""Unit fixtures: no network. Redis is fakeredis behind a real `ArqRedis`."""

from collections.abc import AsyncIterator

import fakeredis
import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import ConnectionPool

from jobqueue.api.app import create_app
from jobqueue.history.tracker import JobTracker
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.scripts import SCRIPTS, sha1
from tests.helpers.secret_keys import SECRETS_KEY


@pytest.fixture
def settings() -> Settings:
    return Settings(
        redis_url="redis://fake:6379/0",
        max_body_bytes=10_000,
        webhook_allowed_hosts=frozenset({"127.0.0.1"}),
        secrets_key=SECRETS_KEY,
        log_format="console",
        auth="off",  # (tests/unit/api/test_access_matrix.py builds apps with keys)
    )


@pytest.fixture
def fake_server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def tracker(settings: Settings) -> JobTracker:
    return JobTracker(settings)


@pytest.fixture
def redis(
    fake_server: fakeredis.FakeServer, settings: Settings, tracker: JobTracker
) -> TrackedRedis:
    """The service's client over fakeredis, recording through `tracker`."""
    pool = ConnectionPool(connection_class=fakeredis.FakeAsyncRedisConnection, server=fake_server)
    return TrackedRedis(pool, settings, tracker)


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


@pytest.fixture(autouse=True)
def _scripts_without_shebangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """fakeredis's Lua engine does not read Redis 7's `#!lua` line: give it the bodies (the
    shebang's effect, refusal when Redis is full, is shown on a real redis-server)."""
    for script in SCRIPTS:
        body = script.body
        monkeypatch.setattr(script, "text", body)
        monkeypatch.setattr(script, "sha", sha1(body))
