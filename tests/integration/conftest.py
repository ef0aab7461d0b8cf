"""Integration fixtures: one private redis-server, one real worker and one real API server per
session (tests use unique job ids, so they share them safely)."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.helpers.services import RedisServer, Stack, service_env, start_api, start_worker
from tests.helpers.webhook_target import WebhookTarget


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    server = RedisServer(workdir / "redis")
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, workdir)
    api, api_url = start_api(env, workdir)
    yield Stack(server, worker, api, api_url)
    api.stop()
    worker.stop()
    server.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def redis_client(stack: Stack) -> Iterator[redis.Redis]:
    with stack.redis.client() as client:
        yield client


@pytest.fixture(scope="session")
def webhook_target() -> Iterator[WebhookTarget]:
    target = WebhookTarget()
    target.start()
    yield target
    target.stop()
