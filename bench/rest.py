"""REST enqueue under load: `POST /v1/jobs` against a plain enqueue endpoint and a constant
one, each one uvicorn process, measured in turns round after round."""

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from arq.connections import RedisSettings, create_pool

from bench.harness import (
    REPO_ROOT,
    Meter,
    Process,
    cpu_seconds,
    peak_rss_mib,
    percentile,
    start_http,
)
from bench.loadgen import load
from bench.peers.codec import dumps, loads
from bench.systems import Setup

SERVICE = "POST /v1/jobs (service)"
PLAIN = "plain FastAPI + arq enqueue_job endpoint"
CONSTANT = "constant endpoint (HTTP ceiling)"
DIRECT = "direct arq pool.enqueue_job loop (no HTTP)"


@dataclass(frozen=True)
class Load:
    generator: str  # "wrk" or "python"
    rounds: int
    seconds: float
    connections: int


def _servers(setup: Setup) -> dict[str, tuple[list[str], dict[str, str], Path]]:
    uvicorn = str(Path(sys.executable).parent / "uvicorn")
    baseline = [uvicorn, "--no-access-log"]
    return {  # name: (command up to the options uvicorn adds, environment, working folder)
        SERVICE: (
            setup.api_command(),
            setup.service_env,
            setup.service_root,
        ),
        PLAIN: ([*baseline, "bench.http_baselines:enqueue_app"], setup.bench_env, REPO_ROOT),
        CONSTANT: ([*baseline, "bench.http_baselines:constant_app"], setup.bench_env, REPO_ROOT),
    }


def rest_enqueue(setup: Setup, meter: Meter, spec: Load) -> dict[str, dict[str, list[float]]]:
    """On a shared, noisy machine a slow spell then hits every endpoint alike; each round
    gives its own ratio."""
    servers: dict[str, tuple[Process, str]] = {}
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for name, (args, env, cwd) in _servers(setup).items():
            log_name = "api-rest" if name == SERVICE else f"baseline-{len(servers)}"
            servers[name] = start_http(log_name, args, env, setup.logdir, cwd)
            load(
                spec.generator,
                f"{servers[name][1]}/v1/jobs",
                connections=spec.connections,
                seconds=1,
            )
        for round_index in range(spec.rounds):
            for name, (process, url) in servers.items():
                figures = _round(meter, spec, process, url)
                print(
                    f"REST round {round_index + 1}/{spec.rounds} {name}: "
                    f"{figures['rps']:,.0f} req/s",
                    flush=True,
                )
                for key, value in figures.items():
                    results.setdefault(name, {}).setdefault(key, []).append(value)
        for name, (process, _) in servers.items():
            results[name]["rss_mib"] = [peak_rss_mib(process.pids())]
    finally:
        for process, _ in servers.values():
            process.stop()
    direct = [asyncio.run(_direct_enqueue(setup, meter, spec)) for _ in range(spec.rounds)]
    results[DIRECT] = {key: [d[key] for d in direct] for key in direct[0]}
    return results


def _round(meter: Meter, spec: Load, process: Process, url: str) -> dict[str, float]:
    meter.flush()
    meter.reset()
    cpu = cpu_seconds(process.pids())
    figures = load(
        spec.generator, f"{url}/v1/jobs", connections=spec.connections, seconds=spec.seconds
    )
    requests = max(figures["requests"], 1)
    figures["cpu_us_per_request"] = (cpu_seconds(process.pids()) - cpu) / requests * 1e6
    figures["commands_per_request"] = meter.commands() / requests
    return figures


async def _direct_enqueue(setup: Setup, meter: Meter, spec: Load) -> dict[str, float]:
    """arq's own enqueue from this process, `connections` at a time: Redis's ceiling."""
    meter.flush()
    redis = await create_pool(
        RedisSettings.from_dsn(setup.redis_url), job_serializer=dumps, job_deserializer=loads
    )
    latencies: list[float] = []
    deadline = time.perf_counter() + spec.seconds

    async def client_loop() -> None:
        while (now := time.perf_counter()) < deadline:
            await redis.enqueue_job("noop", message="x")
            latencies.append((time.perf_counter() - now) * 1000)

    await asyncio.gather(*(client_loop() for _ in range(spec.connections)))
    await redis.aclose()
    return {
        "rps": len(latencies) / spec.seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }
