"""Plumbing for the benchmarks: processes, Redis command counts, CPU, memory, percentiles."""

import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from scripts.processes import REPO_ROOT, RedisServer, ServiceProcess, free_port, wait_until

__all__ = ["REPO_ROOT", "Meter", "Process", "RedisServer"]


class Process(ServiceProcess):
    """A `ServiceProcess` started in `cwd` with exactly `env` (a service checkout measured with
    `--service-root` runs in its own folder), and stopped with its children: peers (dramatiq,
    taskiq) fork worker children that must not outlive a run."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], logdir: Path, cwd: Path
    ) -> None:
        super().__init__(name, args, env, logdir, cwd=cwd, inherit_env=False)

    def pids(self) -> list[int]:
        """This process and its descendants."""
        return [self.pid, *_descendants(self.pid)]

    def stop(self) -> None:
        family = self.pids() if self.is_running() else []
        super().stop()
        for pid in family[1:]:  # children the SIGTERM did not take down in time
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread or process has just gone
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pids: list[int]) -> float:
    """The processes' peak resident set sizes (VmHWM) added up, in MiB."""
    total = 0
    for pid in pids:
        try:
            match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        total += int(match.group(1)) if match else 0
    return total / 1024


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


class Meter:
    """Counts the Redis commands that systems send (INFO commandstats), less the harness's own.

    commandstats counts every command the server runs, including those run inside Lua
    scripts and MULTI blocks. Each command the harness sends through the meter is tallied
    under its commandstats name and subtracted, so a system's own INFO or PING still counts.
    """

    def __init__(self, server: RedisServer) -> None:
        # No CLIENT SETINFO on connecting: the harness's own connection sends nothing unasked.
        self.client = redis.Redis(
            port=server.port, socket_timeout=5, lib_name=None, lib_version=None
        )
        self.sent: Counter[str] = Counter()

    def call(self, stat: str, *args: Any) -> Any:
        self.sent[stat] += 1
        return self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    def reset(self) -> None:
        self.client.config_resetstat()
        self.sent = Counter({"config|resetstat": 1})

    def calls(self) -> dict[str, int]:
        """Calls of each command since the last reset, less the harness's own."""
        stats: dict[str, dict[str, int]] = self.client.info("commandstats")  # type: ignore[assignment]
        calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
        for name, sent in self.sent.items():
            calls[name] = calls.get(name, 0) - sent
        self.sent["info"] += 1  # an INFO is counted after it ran: in the next reading
        return {name: n for name, n in calls.items() if n}

    def commands(self) -> int:
        return sum(self.calls().values())

    def redis_cpu_seconds(self) -> float:
        info: dict[str, float] = self.client.info("cpu")  # type: ignore[assignment]
        self.sent["info"] += 1
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def flush(self) -> None:
        self.client.flushall()
        self.sent["flushall"] += 1


def http_ready(url: str) -> Callable[[], bool]:
    """A probe: the server at `url` answers HTTP at all (any status)."""

    def probe() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return True

    return probe


def start_http(
    name: str, args: list[str], env: dict[str, str], logdir: Path, cwd: Path
) -> tuple[Process, str]:
    """Start an HTTP server (`args` up to `--host`) on a free port; wait until it answers."""
    port = free_port()
    process = Process(name, [*args, "--host", "127.0.0.1", "--port", str(port)], env, logdir, cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ready(f"{url}/docs"), timeout=30, what=f"{name} to serve")
    except TimeoutError:
        process.stop()
        raise TimeoutError(f"{name} did not start:\n{process.log_text()[-3000:]}") from None
    return process, url
