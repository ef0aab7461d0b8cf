"""Plumbing for the benchmarks: processes, Redis command counts, memory, percentiles, repeats."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from scripts.processes import (
    REPO_ROOT,
    RedisServer,
    ServiceProcess,
    free_port,
    wait_until,
)

BIN = Path(sys.executable).parent
__all__ = ["BIN", "REPO_ROOT", "RedisServer", "ServiceProcess", "free_port", "wait_until"]

# Commands the harness itself sends while measuring; never counted against a system.
HARNESS_COMMANDS = {"cmdstat_info", "cmdstat_config", "cmdstat_flushall", "cmdstat_ping"}


@dataclass
class Figure:
    """One measured quantity over repeated runs."""

    name: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.runs), max(self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "runs": self.runs, "median": self.median}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds(client: "redis.Redis") -> float:
    info: dict[str, float] = client.info("cpu")  # type: ignore[assignment]
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def command_calls(client: "redis.Redis") -> dict[str, int]:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return {name: int(v["calls"]) for name, v in stats.items() if name not in HARNESS_COMMANDS}


def total_commands(client: "redis.Redis", *, minus: dict[str, int] | None = None) -> int:
    calls = command_calls(client)
    for name, count in (minus or {}).items():
        calls[name] = calls.get(name, 0) - count
    return sum(calls.values())


def start(name: str, args: list[str], env: dict[str, str], logdir: Path) -> ServiceProcess:
    return ServiceProcess(name, args, {**env, "PYTHONPATH": str(REPO_ROOT)}, logdir)


def start_http(
    name: str, app: str, env: dict[str, str], logdir: Path, *extra: str
) -> tuple[ServiceProcess, str]:
    import httpx

    port = free_port()
    process = start(
        name,
        [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port), *extra],
        env,
        logdir,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/docs", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=20, what=f"{name} to serve")
    return process, url


def wait_drained(
    client: "redis.Redis", key: str, total: int, window: float = 20, on_first: Any = None
) -> tuple[float, int]:
    """Poll `ZCARD key` until it is empty, or for `window` seconds after the first job finishes
    (arq's defaults run a 10 ms job only ~20 times a second). Returns (jobs/s from the first
    finished job on, number of ZCARDs sent, to subtract from the command counts).
    `on_first(remaining)` is called when the first job has finished."""
    polls = 0
    first_seen: tuple[float, int] | None = None
    deadline = time.monotonic() + 60  # for the first job to finish
    while True:
        remaining = int(client.zcard(key))  # type: ignore[arg-type]
        polls += 1
        now = time.perf_counter()
        if first_seen is None and remaining < total:
            first_seen = (now, remaining)
            deadline = time.monotonic() + window
            if on_first is not None:
                on_first(remaining)
        if first_seen is not None and (remaining == 0 or time.monotonic() >= deadline):
            started, left = first_seen
            return (left - remaining) / max(now - started, 1e-9), polls
        if first_seen is None and time.monotonic() >= deadline:
            raise TimeoutError(f"no job of {key} finished within 60 s")
        time.sleep(0.005)


def wrk(url: str, script: Path, seconds: float, connections: int) -> dict[str, float]:
    """Run wrk (one thread, leaving the other core to the server) and parse its summary."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk); `make bench` installs it")
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "errors": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def repeat(times: int, measure: Callable[[], dict[str, float]]) -> dict[str, list[float]]:
    """Run `measure` `times` times; collect each key's values."""
    runs: dict[str, list[float]] = {}
    for _ in range(times):
        for key, value in measure().items():
            runs.setdefault(key, []).append(value)
    return runs


def env_for(redis_url: str) -> dict[str, str]:
    """The processes' environment: yours (so `JOBQUEUE_*` settings apply to the service under
    test), pointed at the benchmark's Redis, logging JSON."""
    return {
        **os.environ,
        "JOBQUEUE_REDIS_URL": redis_url,
        "BENCH_REDIS_URL": redis_url,
        "JOBQUEUE_LOG_FORMAT": "json",
    }
