"""End-to-end latency over REST (POST, then long-poll the result), idle and under a steady
background load, with the service's worker and API running; their memory afterwards."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.harness import Meter, Process, peak_rss_mib, percentile, start_http
from bench.systems import Setup

LOAD_JOBS_PER_S = 500
LOAD = f"under load ({LOAD_JOBS_PER_S} jobs/s in the background)"


def end_to_end(
    setup: Setup, meter: Meter, repeats: int, samples: int
) -> dict[str, dict[str, list[float]]]:
    meter.flush()
    worker_args = setup.service_command("arq", "worker_settings.WorkerSettings")
    worker = Process("worker-e2e", worker_args, setup.service_env, setup.logdir, setup.service_root)
    api_args = setup.api_command()
    try:
        api, url = start_http(
            "api-e2e", api_args, setup.service_env, setup.logdir, setup.service_root
        )
    except BaseException:
        worker.stop()
        raise
    results: dict[str, dict[str, list[float]]] = {"idle": {}, LOAD: {}}
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            _round_trip(http, "first", wait=30)  # the worker may still be starting
            _sequential(http, 20)  # warm-up
            for _ in range(repeats):
                _collect(results["idle"], _sequential(http, samples))
            meter.reset()
            time.sleep(3)
            results["idle"]["redis_commands_per_s"] = [meter.commands() / 3]
            with _background_load(url):
                for _ in range(repeats):
                    _collect(results[LOAD], _sequential(http, samples))
        results["idle"]["worker_rss_mib"] = [peak_rss_mib(worker.pids())]
        results["idle"]["api_rss_mib"] = [peak_rss_mib(api.pids())]
    finally:
        api.stop()
        worker.stop()
    return results


def _collect(into: dict[str, list[float]], figures: dict[str, float]) -> None:
    for key, value in figures.items():
        into.setdefault(key, []).append(value)


def _round_trip(http: httpx.Client, message: str, wait: float = 10) -> None:
    job = http.post("/v1/jobs", json={"function": "echo", "args": {"message": message}})
    job.raise_for_status()
    done = http.get(f"/v1/jobs/{job.json()['job_id']}/result", params={"timeout": wait})
    if done.json().get("status") != "succeeded":
        raise RuntimeError(f"end-to-end job did not succeed: {done.text[:500]}")


def _sequential(http: httpx.Client, samples: int) -> dict[str, float]:
    latencies = []
    for i in range(samples):
        started = time.perf_counter()
        _round_trip(http, f"e{i}")
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }


@contextmanager
def _background_load(url: str, tick: float = 0.02) -> Iterator[None]:
    """Echo jobs at a steady rate from a thread, `POST /v1/jobs/batch` every `tick` s."""
    stop = threading.Event()
    jobs = [{"function": "echo", "args": {"message": "load"}}] * int(LOAD_JOBS_PER_S * tick)

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                started = time.perf_counter()
                http.post("/v1/jobs/batch", json={"jobs": jobs}).raise_for_status()
                stop.wait(max(0.0, tick - (time.perf_counter() - started)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(1)
    try:
        yield
    finally:
        stop.set()
        thread.join()
