"""`arq --check worker_settings.WorkerSettings`, the compose healthcheck, against a real worker."""

import os
import subprocess

from tests.helpers.services import BIN, REPO_ROOT, Stack


def health_check(env: dict[str, str]) -> int:
    return subprocess.run(
        [str(BIN / "arq"), "--check", "worker_settings.WorkerSettings"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        timeout=30,
    ).returncode


def test_health_check_passes_while_a_worker_serves_the_queue(stack: Stack) -> None:
    assert health_check({"JOBQUEUE_REDIS_URL": stack.redis.url}) == 0


def test_health_check_fails_for_a_queue_no_worker_serves(stack: Stack) -> None:
    env = {"JOBQUEUE_REDIS_URL": stack.redis.url, "JOBQUEUE_QUEUE_NAME": "arq:unserved"}
    assert health_check(env) == 1
