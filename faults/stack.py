"""The processes under test: a durable private redis-server, the API and a pool of workers.

Only processes started here are ever signalled, each by its own handle (its pid).
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scripts.processes import API_COMMAND, BIN, RedisServer, ServiceProcess, free_port, wait_until

# The job wrapper's lines for a run's end (worker/execution.py).
END_EVENTS = ("job.succeeded", "job.failed", "job.retrying", "job.interrupted", "job.cancelled")
# Every acknowledged write on disk before the reply: a kill -9 may lose nothing acknowledged.
DURABLE = ["--appendfsync", "always", "--maxmemory-policy", "noeviction"]


def durable_redis(workdir: Path) -> RedisServer:
    return RedisServer(workdir, persistent=True, options=DURABLE)


def kill_redis(server: RedisServer) -> None:
    """`kill -9`: no shutdown, no final flush; only what the append-only file holds survives."""
    if server.process is not None:
        server.process.kill()
        server.process.wait(timeout=10)
        server.process = None


def base_env(redis_url: str) -> dict[str, str]:
    """What every process gets: our Redis, JSON logs, webhooks to the loopback ledger."""
    return {
        "JOBQUEUE_REDIS_URL": redis_url,
        "JOBQUEUE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "JOBQUEUE_LOG_FORMAT": "json",
        "JOBQUEUE_AUTH": "off",  # (faults are about Redis and workers; access is tested apart)
    }


def start_api(env: dict[str, str], logdir: Path) -> tuple[ServiceProcess, str]:
    port = free_port()
    args = [*API_COMMAND, "--host", "127.0.0.1", "--port", str(port)]
    api = ServiceProcess("api", args, env, logdir)
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/healthz", trust_env=False).status_code == 200,
        timeout=30,
        what="the API to start",
    )
    return api, url


@dataclass
class Exit:
    """How a worker told to stop (or killed) ended."""

    name: str
    pid: int
    signal: str
    code: int | None  # None: still running after the wait (the signal was ignored)
    took_s: float
    ended: float  # time.monotonic() once it had gone (SIGKILLed if it ignored the signal)


@dataclass
class WorkerPool:
    """Real `arq worker_settings.WorkerSettings` processes, started and stopped one by one."""

    env: dict[str, str]
    logdir: Path
    running: list[ServiceProcess] = field(default_factory=list)
    started: list[ServiceProcess] = field(default_factory=list)
    _serial: int = 0

    def pids(self) -> list[int]:
        return [worker.pid for worker in self.started]

    def log_events(self, event: str) -> int:
        """How many lines logging `event` every worker it started wrote (killed ones too)."""
        needle = f'"event":"{event}"'  # (the service's JSON logs, as orjson writes them)
        return sum(w.log_text().count(needle) for w in self.started)

    def logged_end(self, pid: int, job_id: str) -> bool:
        """Whether the worker `pid` (one this pool started) logged an end of `job_id`'s last run
        it began: its log lines are flushed one by one, so a SIGKILLed worker's log says how
        far it got."""
        worker = next((w for w in self.started if w.pid == pid), None)
        if worker is None:
            return False
        needle = f'"job_id":"{job_id}"'
        last = [line for line in worker.log_text().splitlines() if needle in line][-1:]
        return any(f'"event":"{event}"' in line for line in last for event in END_EVENTS)

    def spawn(self, prefix: str) -> ServiceProcess:
        """Start a worker without waiting for it (replacements start while load runs)."""
        self._serial += 1
        args = [str(BIN / "arq"), "worker_settings.WorkerSettings"]
        worker = ServiceProcess(f"{prefix}-worker-{self._serial}", args, self.env, self.logdir)
        self.running.append(worker)
        self.started.append(worker)
        return worker

    def start(self, prefix: str, count: int) -> None:
        fresh = [self.spawn(prefix) for _ in range(count)]
        for worker in fresh:
            wait_until(
                lambda w=worker: "worker.started" in w.log_text(),  # type: ignore[misc]
                timeout=60,
                what=f"{worker.name} to start",
            )

    def sigkill(self, worker: ServiceProcess) -> None:
        self.running.remove(worker)
        os.kill(worker.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        worker.stop()  # (gone: this closes its log)

    def sigterm(self, worker: ServiceProcess) -> None:
        self.running.remove(worker)
        worker.process.send_signal(signal.SIGTERM)

    def reap(self, worker: ServiceProcess, sent_at: float, within_s: float) -> Exit:
        """Wait for a SIGTERMed worker; one still running after `within_s` ignored it and is
        SIGKILLed (counted as such)."""
        left = max(0.0, within_s - (time.monotonic() - sent_at))
        try:
            code: int | None = worker.process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            code = None
            worker.process.kill()
            worker.process.wait()
        worker.stop()
        ended = time.monotonic()
        return Exit(worker.name, worker.pid, "SIGTERM", code, ended - sent_at, ended)

    def stop_all(self, within_s: float) -> list[Exit]:
        leaving = list(self.running)
        sent_at = time.monotonic()
        for worker in leaving:
            self.sigterm(worker)
        return [self.reap(worker, sent_at, within_s) for worker in leaving]
