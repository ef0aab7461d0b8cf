"""Nothing secret in a log line: with a password-protected Redis and a webhook that carries an
`Authorization` header and fails (its target is closed, so it is retried, then fails), neither
secret appears in any line the API or the worker wrote, nor in the job's stored error or the
operator routes. Its own Redis (with `requirepass`), API and worker."""

from pathlib import Path

import httpx

from scripts.processes import RedisServer, free_port
from tests.helpers.api import enqueue, outcome
from tests.helpers.services import service_env, start_api, start_worker

REDIS_PASSWORD = "redis-pw-5f1c0e"  # noqa: S105 - planted, to be looked for
TOKEN = "Bearer token-9a7d3b"  # noqa: S105 - planted, to be looked for


async def test_no_secret_reaches_a_log_line_or_an_operator_route(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", password=REDIS_PASSWORD)
    server.start()
    env = service_env(server.url)
    worker = start_worker(env, tmp_path)
    api_process, url = start_api(env, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as api:
            closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every try fails
            job = await enqueue(
                api,
                "webhook",
                args={"url": closed, "payload": {}, "headers": {"Authorization": TOKEN}},
            )
            ended = await outcome(api, job["job_id"], timeout=30)
            assert ended["status"] == "failed"
            shown = [str(ended["error"])]
            for route in ("/metrics", "/v1/workers", "/v1/queues"):
                shown.append((await api.get(route)).text)
        logs = worker.log_text() + api_process.log_text()
        assert "job.failed" in logs  # (the lines were written, a failure's traceback too)
        assert "Traceback" in logs or '"exception"' in logs
        for secret in (REDIS_PASSWORD, TOKEN.split()[1]):
            assert secret not in logs, f"{secret} in a log line"
            assert all(secret not in text for text in shown), f"{secret} in a response"
    finally:
        api_process.stop()
        worker.stop()
        server.stop()
