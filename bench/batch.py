"""Batch enqueue: `POST /v1/jobs/batch`, 1,000 jobs a request, one request at a time."""

import time

import httpx

from bench.harness import Meter, start_http
from bench.systems import Setup

BATCH_SIZE = 1000  # the API's maximum
REQUESTS = 10


def batch_enqueue(setup: Setup, meter: Meter, repeats: int) -> dict[str, list[float]]:
    args = setup.api_command()
    process, url = start_http(
        "api-batch", args, setup.service_env, setup.logdir, setup.service_root
    )
    jobs = [{"function": "echo", "args": {"message": f"m{i}"}} for i in range(BATCH_SIZE)]
    results: dict[str, list[float]] = {"jobs_per_s": [], "commands_per_job": []}
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            http.post("/v1/jobs/batch", json={"jobs": jobs})  # warm-up
            for _ in range(repeats):
                meter.flush()
                meter.reset()
                started = time.perf_counter()
                for _ in range(REQUESTS):
                    response = http.post("/v1/jobs/batch", json={"jobs": jobs})
                    if response.status_code != 200 or response.json()["created"] != BATCH_SIZE:
                        raise RuntimeError(
                            f"batch enqueue: {response.status_code} {response.text[:500]}"
                        )
                elapsed = time.perf_counter() - started
                results["jobs_per_s"].append(BATCH_SIZE * REQUESTS / elapsed)
                results["commands_per_job"].append(meter.commands() / (BATCH_SIZE * REQUESTS))
    finally:
        process.stop()
    return results
