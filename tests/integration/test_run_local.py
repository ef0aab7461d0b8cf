"""`make run`: Ctrl-C stops the whole local service promptly and cleanly."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers.services import REPO_ROOT, free_port, wait_until


def test_ctrl_c_stops_api_worker_and_private_redis_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "JOBQUEUE_REDIS_URL"}
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "scripts/run_local.py", "--port", str(port)],
        cwd=REPO_ROOT, env={**env, "JOBQUEUE_LOG_FORMAT": "json"},
        stdout=log, stderr=log, start_new_session=True,  # its own group, as a terminal gives
    )  # fmt: skip
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200,
            timeout=30,
        )
        wait_until(lambda: "worker.started" in (tmp_path / "run.log").read_text(), timeout=10)
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        assert run.wait(timeout=10) == 0
        output = (tmp_path / "run.log").read_text()
        assert "worker.stopped" in output  # the worker shut down with Redis still there
        assert "redis.retrying" not in output
        # Ctrl-C must not reach Redis: the script stops it last, with SIGTERM, once the worker
        # (which writes to Redis while shutting down) is gone.
        redis_log = (REPO_ROOT / ".run" / "redis" / "redis.log").read_text()
        signals = [line for line in redis_log.splitlines() if "Received SIG" in line]
        assert signals
        assert "SIGTERM" in signals[-1]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        log.close()
