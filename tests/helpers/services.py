"""Real processes for integration tests: a private redis-server, the worker and the API.

Each test session starts its own redis-server on a free port and never touches any other.
Starting a process waits for it synchronously (`wait_until`, from fixtures); tests themselves
wait with `tests.helpers.eventually`.
"""

from dataclasses import dataclass
from pathlib import Path

import httpx

from jobqueue.history.tracker import JobTracker
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.connection import create_redis
from scripts.processes import (
    API_COMMAND,
    BIN,
    REPO_ROOT,
    RedisServer,
    ServiceProcess,
    free_port,
    wait_until,
)
from tests.helpers.secret_keys import SECRETS_KEY

__all__ = [
    "BIN",
    "REPO_ROOT",
    "RedisServer",
    "ServiceProcess",
    "Stack",
    "connect",
    "free_port",
    "service_env",
    "start_api",
    "start_worker",
    "wait_until",
]


@dataclass
class Stack:
    """One private redis-server, one real worker and one real API server."""

    redis: RedisServer
    worker: ServiceProcess
    api: ServiceProcess
    api_url: str


def service_env(redis_url: str) -> dict[str, str]:
    """Settings for the processes under test: fast retries and crons, JSON logs."""
    return {
        "JOBQUEUE_REDIS_URL": redis_url,
        "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "JOBQUEUE_SECRETS_KEY": SECRETS_KEY,
        "JOBQUEUE_RETRY_BASE_DELAY": "0.05",
        "JOBQUEUE_RETRY_MAX_DELAY": "0.2",
        "JOBQUEUE_STATS_SCHEDULE": "* * * * * *",
        "JOBQUEUE_SWEEP_SCHEDULE": "* * * * * *",
        "JOBQUEUE_WORKER_POLL_DELAY": "0.05",
        "JOBQUEUE_WORKER_HEARTBEAT_INTERVAL": "0.5",
        "JOBQUEUE_WORKER_LIVENESS_WINDOW": "2",
        "JOBQUEUE_LOG_FORMAT": "json",
        # Explicitly off: these tests are about jobs; tests/integration/test_access.py runs the
        # API with keys, and the README walk does as `make run` does.
        "JOBQUEUE_AUTH": "off",
    }


def start_worker(env: dict[str, str], logdir: Path, name: str = "worker") -> ServiceProcess:
    worker = ServiceProcess(name, [str(BIN / "arq"), "worker_settings.WorkerSettings"], env, logdir)
    wait_until(lambda: "worker.started" in worker.log_text(), what="the worker to start")
    return worker


def start_api(env: dict[str, str], logdir: Path, name: str = "api") -> tuple[ServiceProcess, str]:
    port = free_port()
    api = ServiceProcess(
        name,
        [*API_COMMAND, "--host", "127.0.0.1", "--port", str(port)],
        env,
        logdir,
    )
    url = f"http://127.0.0.1:{port}"
    # (trust_env off: a developer's HTTP(S)_PROXY must not route loopback requests)
    healthz = f"{url}/healthz"
    wait_until(
        lambda: httpx.get(healthz, trust_env=False).status_code == 200, what="the API to start"
    )
    return api, url


def connect(redis_url: str, **settings: object) -> TrackedRedis:
    """The service's own Redis client (history recording included), as the processes build it."""
    configured = Settings(redis_url=redis_url, **settings)  # type: ignore[arg-type]
    return create_redis(configured, JobTracker(configured))
