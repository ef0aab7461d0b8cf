"""The app with auth on and the module's `keys_file` (each test module defines the keys it
needs), over fakeredis, and a client for it in-process."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis


@pytest.fixture
def app(settings: Settings, redis: TrackedRedis, keys_file: Path) -> FastAPI:
    keyed = settings.model_copy(update={"auth": "on", "api_keys_file": keys_file})
    return create_app(keyed, connect=lambda _: redis)


@pytest.fixture
async def dashboard(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client
