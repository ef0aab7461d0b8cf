"""A client that hangs up in the middle of its body is not a server error."""

from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from starlette.types import Message

from jobqueue.api.app import create_app
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/jobs/batch", "/v1/jobs/retry"])
async def test_a_client_gone_mid_body_is_logged_as_such_not_as_an_error(
    settings: Settings, redis: TrackedRedis, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings, connect=lambda _: redis)
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"function": "ec', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("test", 80),
    }  # fmt: skip
    async with LifespanManager(app) as manager:
        await manager.app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    assert status in (400, 499)  # FastAPI's own routes answer 400; nobody reads it either way
    logged = capsys.readouterr().out + capsys.readouterr().err
    assert "http.unhandled_error" not in logged
    assert "Traceback" not in logged
