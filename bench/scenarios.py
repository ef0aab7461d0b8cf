"""The six measurements of `make bench`, each against the same private Redis."""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BIN,
    REPO_ROOT,
    RedisServer,
    ServiceProcess,
    cpu_seconds,
    env_for,
    peak_rss_mib,
    percentile,
    redis_cpu_seconds,
    repeat,
    start,
    start_http,
    total_commands,
    wait_drained,
    wait_until,
    wrk,
)

POST_SCRIPT = REPO_ROOT / "bench" / "post_job.lua"


@dataclass
class Config:
    server: RedisServer
    logdir: Path
    repeats: int
    rest_rounds: int  # the REST ratio varies most from one round to the next: more rounds
    jobs: int  # per worker-throughput run
    seconds: float  # per HTTP load run
    connections: int
    e2e_samples: int

    @property
    def env(self) -> dict[str, str]:
        return env_for(self.server.url)


# --- 1 + 5 + 6: worker throughput, worker memory, Redis commands per job


@dataclass(frozen=True)
class WorkerSystem:
    name: str
    command: list[str]
    queue_key: str
    enqueue: Callable[[str, str, int], Coroutine[Any, Any, None]]  # (redis url, kind, count)
    extra_env: tuple[tuple[str, str], ...] = ()


async def _in_chunks(count: int, make: Callable[[], Awaitable[Any]]) -> None:
    for offset in range(0, count, 500):
        await asyncio.gather(*(make() for _ in range(min(500, count - offset))))


async def _enqueue_service(url: str, kind: str, count: int) -> None:
    from jobqueue.history.tracker import JobTracker
    from jobqueue.settings import Settings
    from jobqueue.store.connection import create_redis

    settings = Settings(redis_url=url)
    redis = create_redis(settings, JobTracker(settings))
    if kind == "noop":
        await _in_chunks(count, lambda: redis.enqueue_job("echo", message="x"))
    else:
        await _in_chunks(count, lambda: redis.enqueue_job("sleep", seconds=0.01))
    await redis.aclose()


async def _enqueue_arq(url: str, kind: str, count: int) -> None:
    from arq.connections import RedisSettings, create_pool

    from bench.baselines import dumps, loads

    redis = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=dumps, job_deserializer=loads
    )
    if kind == "noop":
        await _in_chunks(count, lambda: redis.enqueue_job("noop", message="x"))
    else:
        await _in_chunks(count, lambda: redis.enqueue_job("sleep10", seconds=0.01))
    await redis.aclose()


async def _enqueue_saq(url: str, kind: str, count: int) -> None:
    from saq import Queue

    queue = Queue.from_url(url)
    function = "saq_noop" if kind == "noop" else "saq_sleep10"
    await _in_chunks(count, lambda: queue.enqueue(function))
    await queue.disconnect()


WORKERS = [
    WorkerSystem(
        "service (shipped defaults)",
        [str(BIN / "arq"), "worker_settings.WorkerSettings"],
        "arq:queue",
        _enqueue_service,
    ),
    WorkerSystem(
        "arq, defaults",
        [str(BIN / "arq"), "bench.baselines.ArqDefaults"],
        "arq:queue",
        _enqueue_arq,
    ),
    WorkerSystem(
        "arq, tuned",
        [str(BIN / "arq"), "bench.arq_tuned.WorkerSettings"],
        "arq:queue",
        _enqueue_arq,
    ),
    WorkerSystem(
        "SAQ (peer)",
        [str(BIN / "saq"), "bench.baselines.saq_settings"],
        "saq:default:incomplete",
        _enqueue_saq,
        (("BENCH_SAQ", "1"),),
    ),
]


def worker_throughput(config: Config, system: WorkerSystem, kind: str) -> dict[str, list[float]]:
    client = config.server.client()

    def once() -> dict[str, float]:
        client.flushall()
        asyncio.run(system.enqueue(config.server.url, kind, config.jobs))
        client.config_resetstat()
        worker = start(
            "worker", system.command, {**config.env, **dict(system.extra_env)}, config.logdir
        )
        marks: dict[str, float] = {}

        def first_finished(remaining: int) -> None:  # CPU is counted from here (past start-up)
            marks.update(
                left=remaining, cpu=cpu_seconds(worker.pid), redis_cpu=redis_cpu_seconds(client)
            )

        try:
            rate, polls = wait_drained(
                client, system.queue_key, config.jobs, on_first=first_finished
            )
            remaining = int(client.zcard(system.queue_key))  # type: ignore[arg-type]
            measured = max(marks["left"] - remaining, 1)
            cpu_us = (cpu_seconds(worker.pid) - marks["cpu"]) / measured * 1e6
            redis_us = (redis_cpu_seconds(client) - marks["redis_cpu"]) / measured * 1e6
            done = config.jobs - remaining
            commands = total_commands(client, minus={"cmdstat_zcard": polls + 1})
            rss = peak_rss_mib(worker.pid)
        finally:
            worker.stop()
        return {
            "jobs_per_s": rate,
            "worker_cpu_us_per_job": cpu_us,
            "redis_cpu_us_per_job": redis_us,
            "commands_per_job": commands / max(done, 1),
            "rss_mib": rss,
        }

    return repeat(config.repeats, once)


def idle_commands_per_second(config: Config, system: WorkerSystem, seconds: float) -> float:
    """Redis commands an idle worker sends, per second."""
    client = config.server.client()
    client.flushall()
    worker = start(
        "worker", system.command, {**config.env, **dict(system.extra_env)}, config.logdir
    )
    try:
        time.sleep(2)  # past start-up
        client.config_resetstat()
        time.sleep(seconds)
        return total_commands(client) / seconds
    finally:
        worker.stop()


# --- 2: REST enqueue


def rest_enqueue(config: Config) -> dict[str, dict[str, list[float]]]:
    """The three HTTP servers run side by side and are measured in turns, round after round:
    on a shared, noisy machine a slow spell then hits every endpoint alike."""
    systems = {  # name: (log name, ASGI app, uvicorn options)
        "POST /v1/jobs (service)": ("api", "jobqueue.main:app", ()),
        "plain enqueue_job endpoint": (
            "plain-api",
            "bench.baselines:enqueue_app",
            ("--no-access-log",),
        ),
        "constant endpoint (HTTP ceiling)": (
            "constant-api",
            "bench.baselines:constant_app",
            ("--no-access-log",),
        ),
    }
    client = config.server.client()
    servers: dict[str, tuple[ServiceProcess, str]] = {}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in systems}
    try:
        for name, (log_name, app, extra) in systems.items():
            servers[name] = start_http(log_name, app, config.env, config.logdir, *extra)
            wrk(f"{servers[name][1]}/v1/jobs", POST_SCRIPT, 1, config.connections)  # warm-up
        for _ in range(config.rest_rounds):
            for name, (process, url) in servers.items():
                client.flushall()
                cpu = cpu_seconds(process.pid)
                figures = wrk(f"{url}/v1/jobs", POST_SCRIPT, config.seconds, config.connections)
                requests = max(figures["rps"] * config.seconds, 1)
                figures["cpu_us_per_request"] = (cpu_seconds(process.pid) - cpu) / requests * 1e6
                for key, value in figures.items():
                    results[name].setdefault(key, []).append(value)
        for name, (process, _) in servers.items():
            results[name]["rss_mib"] = [peak_rss_mib(process.pid)]
    finally:
        for process, _ in servers.values():
            process.stop()
    results["direct pool.enqueue_job loop"] = repeat(
        config.repeats, lambda: asyncio.run(_direct_enqueue(config))
    )
    return results


async def _direct_enqueue(config: Config) -> dict[str, float]:
    from arq.connections import RedisSettings, create_pool

    from bench.baselines import dumps, loads

    config.server.client().flushall()
    redis = await create_pool(
        RedisSettings.from_dsn(config.server.url), job_serializer=dumps, job_deserializer=loads
    )
    latencies: list[float] = []
    deadline = time.perf_counter() + config.seconds

    async def client_loop() -> None:
        while (now := time.perf_counter()) < deadline:
            await redis.enqueue_job("noop", message="x")
            latencies.append((time.perf_counter() - now) * 1000)

    await asyncio.gather(*(client_loop() for _ in range(config.connections)))
    await redis.aclose()
    return {
        "rps": len(latencies) / config.seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


# --- 3: batch enqueue


def batch_enqueue(
    config: Config, batch_size: int = 1000, requests: int = 10
) -> dict[str, list[float]]:
    process, url = start_http("api", "jobqueue.main:app", config.env, config.logdir)
    client = config.server.client()
    body = {"jobs": [{"function": "echo", "args": {"message": f"m{i}"}} for i in range(batch_size)]}
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            http.post("/v1/jobs/batch", json=body)  # warm-up

            def once() -> dict[str, float]:
                client.flushall()
                started = time.perf_counter()
                for _ in range(requests):
                    response = http.post("/v1/jobs/batch", json=body)
                    assert response.status_code == 200, response.text
                elapsed = time.perf_counter() - started
                return {"jobs_per_s": batch_size * requests / elapsed}

            return repeat(config.repeats, once)
    finally:
        process.stop()


# --- 4: end-to-end latency


def end_to_end(config: Config) -> dict[str, dict[str, list[float]]]:
    client = config.server.client()
    client.flushall()
    worker = start(
        "worker", [str(BIN / "arq"), "worker_settings.WorkerSettings"], config.env, config.logdir
    )
    process, url = start_http("api", "jobqueue.main:app", config.env, config.logdir)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        wait_until(lambda: "worker.started" in worker.log_text(), what="the worker")
        with httpx.Client(base_url=url, timeout=30) as http:
            _sequential(http, 20)  # warm-up
            results["idle"] = repeat(config.repeats, lambda: _sequential(http, config.e2e_samples))
            client.config_resetstat()
            time.sleep(3)
            results["idle"]["redis_commands_per_s"] = [total_commands(client) / 3]
            with _background_load(config.server.url, jobs_per_second=500):
                results["under load (500 jobs/s in the background)"] = repeat(
                    config.repeats, lambda: _sequential(http, config.e2e_samples)
                )
        results["idle"]["worker_rss_mib"] = [peak_rss_mib(worker.pid)]
        results["idle"]["api_rss_mib"] = [peak_rss_mib(process.pid)]
    finally:
        process.stop()
        worker.stop()
    return results


def _sequential(http: httpx.Client, samples: int) -> dict[str, float]:
    latencies = []
    for i in range(samples):
        started = time.perf_counter()
        job = http.post("/v1/jobs", json={"function": "echo", "args": {"message": f"e{i}"}}).json()
        done = http.get(f"/v1/jobs/{job['job_id']}/result", params={"timeout": 10})
        assert done.json()["status"] == "succeeded", done.text
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }


class _background_load:
    """Enqueue echo jobs at a steady rate from a thread, straight into Redis."""

    def __init__(self, url: str, jobs_per_second: int) -> None:
        self.url, self.rate = url, jobs_per_second
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        from jobqueue.history.tracker import JobTracker
        from jobqueue.settings import Settings
        from jobqueue.store.connection import create_redis

        settings = Settings(redis_url=self.url)
        redis = create_redis(settings, JobTracker(settings))
        tick = 0.02
        per_tick = max(1, int(self.rate * tick))
        while not self.stop.is_set():
            started = time.perf_counter()
            await asyncio.gather(
                *(redis.enqueue_job("echo", message="load") for _ in range(per_tick))
            )
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - started)))
        await redis.aclose()

    def __enter__(self) -> "_background_load":
        self.thread.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
