"""History memory (issue #10: at most 1 KB of Redis memory per finished job retained), read
from `INFO memory`.

The service's worker (its crons put off a year: no sweep forgets or trims while this reads) and
API run `jobs` echo jobs posted with `POST /v1/jobs/batch`, the way clients enqueue them. Once
all have finished and both processes have stopped (nothing writes while this reads, and their
connections' buffers are not counted), `used_memory` is read three times: as the jobs left it;
after deleting what goes by design (arq's results, kept `JOBQUEUE_RESULT_TTL`; each finished
job's own stream, a minute; the capped all-jobs feed); after FLUSHALL, the empty baseline.
`MEMORY USAGE` of every key, summed by kind, shows where the bytes go.

    python -m bench.history_memory [--quick] [--into docs/benchmarks.json]

`--into` puts the section into a run's raw figures and renders that run's report again (its
other figures stay as they were measured).
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import report
from bench.batch import BATCH_SIZE
from bench.harness import REPO_ROOT, Meter, Process, RedisServer, start_http
from bench.history_sections import JUDGED_FROM_JOBS, KINDS, TRANSIENT, kind_of, per_job
from bench.systems import Setup
from jobqueue.history.vocabulary import StoredStatus
from jobqueue.store import keys
from scripts.processes import wait_until

YEARLY = "0 0 1 1 *"
CRONS_OFF = {"JOBQUEUE_STATS_SCHEDULE": YEARLY, "JOBQUEUE_SWEEP_SCHEDULE": YEARLY}
FULL_JOBS, QUICK_JOBS = JUDGED_FROM_JOBS, 300
PIPELINE = 1000  # commands a round trip: keeps the server's client buffers small


def measure(setup: Setup, meter: Meter, jobs: int) -> dict[str, Any]:
    """The raw readings: used_memory at each step, and MEMORY USAGE by kind of key."""
    started = time.monotonic()
    meter.flush()
    _run_jobs(setup, jobs)
    with _connection(setup.redis_url) as client:  # a fresh one each step: its buffers go with it
        finished = _used_memory(client)
    with _connection(setup.redis_url) as client:
        by_kind = usage_by_kind(client)
        feed_events: int = client.xlen(keys.EVENTS)  # type: ignore[assignment]
        _delete(client, TRANSIENT)
    with _connection(setup.redis_url) as client:
        retained = _used_memory(client)
        client.flushall()
        empty = _used_memory(client)
    return {
        "jobs": jobs,
        "enqueued_with": "POST /v1/jobs/batch",
        "used_memory": {"finished": finished, "retained": retained, "empty": empty},
        "by_kind": by_kind,
        "feed_events": feed_events,
        "generated": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "service_root": str(setup.service_root),
        "service_revision": setup.service_revision(),
        "took_s": time.monotonic() - started,
    }


def _run_jobs(setup: Setup, jobs: int) -> None:
    """Start the worker and API, post the jobs, wait until all have finished, stop both."""
    env = {**setup.service_env, **CRONS_OFF}
    worker_args = setup.service_command("arq", "worker_settings.WorkerSettings")
    worker = Process("worker-history", worker_args, env, setup.logdir, setup.service_root)
    try:
        api_args = setup.api_command()
        api, url = start_http("api-history", api_args, env, setup.logdir, setup.service_root)
        try:
            _post(url, jobs)
        finally:
            api.stop()
        _wait_finished(setup.redis_url, jobs, worker)
    finally:
        worker.stop()


def _post(url: str, jobs: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for start in range(0, jobs, BATCH_SIZE):
            size = min(BATCH_SIZE, jobs - start)
            body = {"jobs": [{"function": "echo", "args": {"message": "x"}}] * size}
            response = http.post("/v1/jobs/batch", json=body)
            if response.status_code != 200 or response.json()["created"] != size:
                raise RuntimeError(f"batch enqueue: {response.status_code} {response.text[:500]}")


def _wait_finished(url: str, jobs: int, worker: Process) -> None:
    """Until every job's record says it succeeded; a stuck run fails, never reads early."""
    with _connection(url) as client:
        try:
            wait_until(
                lambda: _ended(client, StoredStatus.succeeded) >= jobs,
                timeout=30 + jobs / 100,  # worker start-up, then far below its speed
                interval=0.2,
                what=f"{jobs} echo jobs to succeed",
            )
        except TimeoutError as exc:
            succeeded, failed = (
                _ended(client, s) for s in (StoredStatus.succeeded, StoredStatus.failed)
            )
            raise RuntimeError(
                f"{exc}: {succeeded} succeeded, {failed} failed\n"
                f"worker log:\n{worker.log_text()[-3000:]}"
            ) from None


def _ended(client: redis.Redis, status: str) -> int:
    """Jobs whose records say they ended with `status`."""
    found: int = client.zcard(keys.index(status=status))  # type: ignore[assignment]
    return found


@contextmanager
def _connection(url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url, socket_timeout=30, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def _used_memory(client: redis.Redis) -> int:
    info: dict[str, Any] = client.info("memory")  # type: ignore[assignment]
    return int(info["used_memory"])


def usage_by_kind(client: redis.Redis) -> dict[str, dict[str, int]]:
    """{kind: {"keys": n, "bytes": MEMORY USAGE summed}}, every element counted (SAMPLES 0)."""
    found = {kind: {"keys": 0, "bytes": 0} for kind in KINDS}
    for batch in _key_batches(client):
        with client.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.memory_usage(key, samples=0)
            sizes: list[int | None] = pipe.execute()
        for key, size in zip(batch, sizes, strict=True):
            found[kind_of(key)]["keys"] += 1
            found[kind_of(key)]["bytes"] += size or 0  # None: it expired meanwhile
    return found


def _key_batches(client: redis.Redis) -> Iterator[list[str]]:
    keys_found: list[str] = list(client.scan_iter(count=PIPELINE))
    for start in range(0, len(keys_found), PIPELINE):
        yield keys_found[start : start + PIPELINE]


def _delete(client: redis.Redis, kinds: tuple[str, ...]) -> None:
    for batch in _key_batches(client):
        doomed = [key for key in batch if kind_of(key) in kinds]
        if doomed:
            client.delete(*doomed)


def _merge(into: Path, section: dict[str, Any]) -> None:
    raw = json.loads(into.read_text())
    raw["history_memory"] = {**section, "apart": True}  # the report says it came later
    into.write_text(json.dumps(raw, indent=1))
    into.with_suffix(".md").write_text(report.render(raw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_JOBS} jobs, not {FULL_JOBS}")
    parser.add_argument("--into", type=Path, help="a run's benchmarks.json to put the section in")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobqueue-history-memory-"))
    server = RedisServer(workdir / "redis")
    server.start()
    own = REPO_ROOT / ".venv" / "bin" / "python"
    python = own.absolute() if own.exists() else Path(sys.executable)
    setup = Setup(REPO_ROOT, python, server.url, workdir)
    try:
        section = measure(setup, Meter(server), QUICK_JOBS if options.quick else FULL_JOBS)
    except BaseException:
        print(f"logs of every process: {workdir}", file=sys.stderr)
        raise
    finally:
        server.stop()
    shutil.rmtree(workdir)  # kept only when the run failed
    print(json.dumps({**section, "per_job": per_job(section)}, indent=1))
    if options.into:
        _merge(options.into, section)


if __name__ == "__main__":
    main()
