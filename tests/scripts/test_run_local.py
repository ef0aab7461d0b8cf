"""`make run` (scripts/run_local.py): refuses what is in its way before starting anything, says
it is up only once the API answers, and stops everything cleanly.

Each run gets a temporary `--run-dir` and a free port: never the checkout's `.run/`, so a
developer's own `make run` beside `make test` is left alone.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from scripts.processes import REPO_ROOT, free_port
from scripts.run_lock import is_alive
from tests.helpers import eventually

pytestmark = pytest.mark.integration  # a real redis-server, worker and API

UP = "jobqueue is up"


class LocalRun:
    """One `python -m scripts.run_local` in its own process group (as a terminal gives it),
    its output in a log file."""

    def __init__(
        self, run_dir: Path, log_path: Path, port: int, env: dict[str, str], args: list[str]
    ) -> None:
        self.run_dir = run_dir
        self.port = port
        self.log_path = log_path
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("JOBQUEUE_", "UVICORN_"))}
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scripts.run_local",
                "--port",
                str(port),
                "--run-dir",
                str(run_dir),
                *args,
            ],
            cwd=REPO_ROOT,
            env={**clean, "JOBQUEUE_LOG_FORMAT": "json", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_up(self) -> None:
        await eventually(lambda: UP in self.output() or self.process.poll() is not None, timeout=30)
        assert UP in self.output(), self.output()

    def wait_refused(self) -> str:
        """The run ends by itself, unsuccessfully; its output. (Stopping what it started may
        take each of its three processes up to run_local's 15 s.)"""
        try:
            code = self.process.wait(timeout=50)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after 50 s:\n{self.output()}") from None
        assert code != 0, self.output()
        return self.output()

    def recorded_pids(self) -> dict[str, int]:
        """The processes the run's lock file names, by name."""
        lines = (self.run_dir / "lock").read_text().splitlines()
        return {name: int(pid) for name, pid in (line.rsplit(" ", 1) for line in lines)}

    def redis_signals(self) -> list[str]:
        log = (self.run_dir / "redis" / "redis.log").read_text()
        return [line for line in log.splitlines() if "Received SIG" in line]

    def clean_up(self) -> None:
        """Whatever a failed test left running: the group, then its private redis-server
        (in a session of its own), checked to be ours by its working directory."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # an API or worker that outlived the run
            os.killpg(self.process.pid, signal.SIGKILL)
        has_lock = (self.run_dir / "lock").exists()
        redis_pid = self.recorded_pids().get("redis-server") if has_lock else None
        if redis_pid and _cwd(redis_pid) == self.run_dir / "redis":
            os.kill(redis_pid, signal.SIGKILL)
        self._log.close()


def _cwd(pid: int) -> Path | None:
    """redis-server works in its data directory (and rewrites its command line)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def healthz(url: str) -> int:
    return httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code


StartRun = Callable[..., LocalRun]


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[StartRun]:
    runs: list[LocalRun] = []

    def start(
        *,
        run_dir: Path | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> LocalRun:
        log_path = tmp_path / f"run-{len(runs)}.log"
        run = LocalRun(
            run_dir or tmp_path / "run", log_path, port or free_port(), env or {}, list(args)
        )
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.clean_up()


async def test_ctrl_c_stops_api_worker_and_private_redis_cleanly_redis_last(
    start_run: StartRun,
) -> None:
    run = start_run()
    await run.wait_up()
    await eventually(lambda: "worker.started" in run.output(), timeout=10)
    os.killpg(run.process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    assert run.process.wait(timeout=20) == 0
    output = run.output()
    assert "worker.stopped" in output  # the worker shut down with Redis still there
    assert "redis.retrying" not in output
    # Ctrl-C must not reach Redis: the script stops it last, with SIGTERM, once the worker
    # (which writes to Redis while shutting down) is gone.
    signals = run.redis_signals()
    assert signals
    assert "SIGTERM" in signals[-1]
    pids = run.recorded_pids()
    assert set(pids) == {"make-run", "redis-server", "worker", "API"}
    assert not [name for name, pid in pids.items() if is_alive(pid)]


def test_taken_port_is_refused_before_anything_starts(start_run: StartRun) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start_run(port=port)
        output = run.wait_refused()
    assert (
        f"port {port} is already in use (another make run? or choose one: make run PORT=" in output
    )
    assert "Nothing was started." in output
    assert not (run.run_dir / "redis").exists()  # no redis-server ever had it as its data
    assert list(run.recorded_pids()) == ["make-run"]  # no process was spawned


async def test_second_run_on_the_same_run_dir_is_refused_naming_the_first_ones_pid(
    start_run: StartRun,
) -> None:
    first = start_run()
    await first.wait_up()
    second = start_run(run_dir=first.run_dir)
    output = second.wait_refused()
    assert f"is in use by another make run (pid {first.process.pid})" in output
    assert "Nothing was started." in output
    with pytest.raises(httpx.ConnectError):
        healthz(second.url)
    assert first.process.poll() is None
    assert healthz(first.url) == 200
    assert first.recorded_pids()["make-run"] == first.process.pid


# uvicorn then answers every request with 503: the port is open, /healthz never says 200.
NEVER_HEALTHY = {"UVICORN_LIMIT_CONCURRENCY": "0"}


async def test_up_is_announced_only_once_healthz_answers_200(start_run: StartRun) -> None:
    run = start_run(env=NEVER_HEALTHY)
    await eventually(lambda: run.output().count("Exceeded concurrency limit") >= 2, timeout=30)
    assert UP not in run.output()  # though the API was listening and answering
    assert run.process.poll() is None  # still waiting for it
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.process.wait(timeout=20) == 0


def test_api_not_healthy_within_the_start_timeout_stops_everything_and_says_so(
    start_run: StartRun,
) -> None:
    run = start_run(env=NEVER_HEALTHY, args=("--start-timeout", "1"))
    output = run.wait_refused()
    assert UP not in output
    assert f"gave up after 1s waiting for the API to answer {run.url}/healthz with 200" in output
    assert "Everything it had started was stopped." in output
    assert not [name for name, pid in run.recorded_pids().items() if is_alive(pid)]
    assert "SIGTERM" in run.redis_signals()[-1]


def test_api_failing_at_start_up_stops_everything_and_says_so(start_run: StartRun) -> None:
    run = start_run(env={"UVICORN_LOG_CONFIG": "/nonexistent/logging.ini"})  # uvicorn exits 2
    output = run.wait_refused()
    assert UP not in output
    assert "jobqueue did not start: the API (exit code 2) exited while waiting for" in output
    assert "Everything it had started was stopped." in output
    assert not [name for name, pid in run.recorded_pids().items() if is_alive(pid)]


async def test_the_api_runs_with_the_runs_own_admin_key_kept_across_runs(
    start_run: StartRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "keyed"
    tokens_seen = []
    for _ in range(2):
        run = start_run(run_dir=run_dir)
        await run.wait_up()
        token_file = run_dir / "token"
        assert token_file.stat().st_mode & 0o777 == 0o600  # the token: yours only
        token = token_file.read_text().strip()
        assert token.startswith("jq_")
        assert token not in (run_dir / "keys.toml").read_text()
        assert "export TOKEN=$(cat " in run.output()
        assert token not in run.output()
        async with httpx.AsyncClient(base_url=run.url, trust_env=False) as api:
            assert (await api.get("/v1/functions")).status_code == 401
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await api.get("/v1/functions", headers=bearer)).status_code == 200
        os.killpg(run.process.pid, signal.SIGINT)
        assert run.process.wait(timeout=20) == 0
        tokens_seen.append(token)
    assert tokens_seen[0] == tokens_seen[1]  # made once, then kept
    secrets_key = run_dir / "secrets-key"
    assert secrets_key.stat().st_mode & 0o777 == 0o600
    assert secrets_key.read_text().strip() not in run.output()


async def test_auth_off_is_explicit_and_warned_about(start_run: StartRun) -> None:
    run = start_run(env={"JOBQUEUE_AUTH": "off"})
    await run.wait_up()
    async with httpx.AsyncClient(base_url=run.url, trust_env=False) as api:
        assert (await api.get("/v1/functions")).status_code == 200
    assert "api.auth_off" in run.output()
    assert not (run.run_dir / "token").exists()
