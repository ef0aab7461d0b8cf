"""Real processes for tests and benchmarks: a private redis-server, our API and worker.

Each user starts its own redis-server on a free port (never the one on 6379) and stops only
that one, by its own process handle.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TypeVar

import redis

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The API as deployed: uvicorn with the service's limits on slow clients and connections.
API_COMMAND = (sys.executable, "-m", "jobqueue", "serve")
T = TypeVar("T")


def die_with_parent() -> None:
    """Run in a child before it execs: the kernel sends it SIGTERM when the process that
    started it dies (Linux), so a test run or benchmark killed hard leaves no redis-server or
    worker behind. Elsewhere it does nothing."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as exc:  # the thing we wait for may not be up yet
            last_error = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"gave up after {timeout}s waiting for {what or probe}: {last_error!r}")


class RedisServer:
    """A private redis-server. With `persistent`, it keeps an append-only file across restarts;
    `options` are more command-line settings (e.g. `["--appendfsync", "always"]`)."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistent: bool = False,
        options: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        executable = shutil.which("redis-server")
        if executable is None:  # never skip silently: `.ci/run` installs it
            raise RuntimeError("redis-server is not on PATH; install it (apt-get install redis)")
        self.executable = executable
        self.workdir = workdir
        self.persistent = persistent
        self.options = list(options)
        self.password = password  # (`requirepass`: clients must give it)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=2)

    def start(self) -> None:
        args = [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.workdir),
            "--appendonly",
            "yes" if self.persistent else "no",
            "--logfile",
            str(self.workdir / "redis.log"),
            *self.options,
            *(["--requirepass", self.password] if self.password else []),
        ]
        self.process = subprocess.Popen(args, preexec_fn=die_with_parent)
        with self.client() as client:
            wait_until(client.ping, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """SIGTERM: Redis shuts down cleanly, flushing its append-only file."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class ServiceProcess:
    """One of our own processes (API or worker), its output captured to a log file.

    It runs in `cwd` (this repo by default) with the caller's environment plus `env`, or with
    exactly `env` when `inherit_env` is false.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        logdir: Path,
        *,
        cwd: Path = REPO_ROOT,
        inherit_env: bool = True,
    ) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env} if inherit_env else env,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.is_running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
