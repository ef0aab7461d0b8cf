"""Worker throughput and Redis commands per job, both sides: N jobs pre-queued, one worker
process, time to drain. Systems are measured in turns, round after round (the order rotating
each round), so that a slow spell on this shared machine hits them all alike and each round
gives its own ratio.
"""

import subprocess
import time
from dataclasses import dataclass

from bench.harness import Meter, Process, cpu_seconds, peak_rss_mib, start_http
from bench.loadgen import python_load
from bench.peers import KINDS
from bench.systems import Setup, WorkerSystem

# What the service runs for each workload, posted to `POST /v1/jobs`.
SERVICE_BODIES = {
    "noop": b'{"function": "echo", "args": {"message": "x"}}',
    "sleep10": b'{"function": "sleep", "args": {"seconds": 0.01}}',
}
FIRST_JOB_TIMEOUT = 60.0


@dataclass(frozen=True)
class Sizes:
    rounds: int
    jobs: int  # pre-queued per run
    window: float  # seconds after the first finished job, at most (arq's defaults are slow)
    idle_seconds: float


Breakdown = dict[str, dict[str, float]]  # phase: {command: calls per job}


def measure_rounds(
    setup: Setup, meter: Meter, systems: list[WorkerSystem], sizes: Sizes
) -> tuple[dict[str, dict[str, dict[str, list[float]]]], dict[str, dict[str, Breakdown]]]:
    """{system key: {kind: {figure: one value per round}}}, and the last round's commands
    per job, command by command: {system key: {kind: breakdown}}."""
    results: dict[str, dict[str, dict[str, list[float]]]] = {
        s.key: {kind: {} for kind in KINDS} for s in systems
    }
    breakdowns: dict[str, dict[str, Breakdown]] = {s.key: {} for s in systems}
    for round_index in range(sizes.rounds):
        shift = round_index % len(systems)
        order = systems[shift:] + systems[:shift]
        for kind in KINDS:
            for system in order:
                figures, breakdowns[system.key][kind] = measure_once(
                    setup, meter, system, kind, sizes
                )
                print(
                    f"round {round_index + 1}/{sizes.rounds} {kind:8} {system.name}: "
                    f"{figures['jobs_per_s']:,.0f} jobs/s, "
                    f"{figures['total_commands_per_job']:.1f} commands/job",
                    flush=True,
                )
                for name, value in figures.items():
                    results[system.key][kind].setdefault(name, []).append(value)
    return results, breakdowns


def measure_once(
    setup: Setup, meter: Meter, system: WorkerSystem, kind: str, sizes: Sizes
) -> tuple[dict[str, float], Breakdown]:
    meter.flush()
    meter.reset()
    enqueue(setup, system, kind, sizes.jobs, meter)
    enqueue_calls = meter.calls()
    queued = system.remaining(meter)
    if queued != sizes.jobs:
        raise RuntimeError(f"{system.name}: {queued} of {sizes.jobs} {kind} jobs queued")
    meter.reset()
    worker = Process(f"worker-{system.key}", system.worker, system.env, setup.logdir, system.cwd)
    try:
        figures = _drain(meter, system, worker, sizes)
        worker_calls = meter.calls()
        rss = peak_rss_mib(worker.pids())
    finally:
        worker.stop()
    done = max(figures.pop("done"), 1)
    breakdown = {
        "enqueue": {name: n / sizes.jobs for name, n in sorted(enqueue_calls.items())},
        "worker": {name: n / done for name, n in sorted(worker_calls.items())},
    }
    enqueue_per_job, worker_per_job = (sum(b.values()) for b in breakdown.values())
    figures |= {
        "enqueue_commands_per_job": enqueue_per_job,
        "worker_commands_per_job": worker_per_job,
        "total_commands_per_job": enqueue_per_job + worker_per_job,
        "rss_mib": rss,
    }
    return figures, breakdown


def enqueue(setup: Setup, system: WorkerSystem, kind: str, count: int, meter: Meter) -> None:
    """Pre-queue `count` jobs with the system's own client; the meter is reset just before
    its first command (an API's start-up is not counted against its enqueues)."""
    if system.enqueuer is None:
        _enqueue_over_rest(setup, kind, count, meter)
        return
    command = [*system.enqueuer, "enqueue", kind, str(count)]
    done = subprocess.run(
        command, cwd=system.cwd, env=system.env, timeout=300, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def _enqueue_over_rest(setup: Setup, kind: str, count: int, meter: Meter) -> None:
    args = setup.api_command()
    api, url = start_http("api-enqueue", args, setup.service_env, setup.logdir, setup.service_root)
    try:
        meter.reset()
        body = SERVICE_BODIES[kind]
        figures = python_load(f"{url}/v1/jobs", body, connections=32, seconds=300, requests=count)
    finally:
        api.stop()
    if figures["errors"] or figures["requests"] != count:
        raise RuntimeError(f"POST /v1/jobs: {figures} for {count} jobs\n{api.log_text()[-3000:]}")


def _drain(meter: Meter, system: WorkerSystem, worker: Process, sizes: Sizes) -> dict[str, float]:
    """Poll until no job is left, or for `window` seconds after the first one finished.
    Jobs/s and CPU per job are counted from the first finished job on (past start-up)."""
    deadline = time.monotonic() + FIRST_JOB_TIMEOUT
    first: tuple[float, int, float, float] | None = None  # time, left, worker CPU, Redis CPU
    while True:
        remaining = system.remaining(meter)
        now = time.perf_counter()
        if first is None and remaining < sizes.jobs:
            first = (now, remaining, cpu_seconds(worker.pids()), meter.redis_cpu_seconds())
            deadline = time.monotonic() + sizes.window
        if first is not None and (remaining == 0 or time.monotonic() >= deadline):
            break
        if not worker.is_running() or time.monotonic() >= deadline:
            problem = "exited" if not worker.is_running() else "finished no job in time"
            raise RuntimeError(f"{system.name} {problem}:\n{worker.log_text()[-3000:]}")
        time.sleep(0.005)
    started, left, cpu, redis_cpu = first
    measured = max(left - remaining, 1)
    return {
        "jobs_per_s": measured / max(now - started, 1e-9),
        "worker_cpu_us_per_job": (cpu_seconds(worker.pids()) - cpu) / measured * 1e6,
        "redis_cpu_us_per_job": (meter.redis_cpu_seconds() - redis_cpu) / measured * 1e6,
        "done": float(sizes.jobs - remaining),
    }


def idle_commands_per_second(
    setup: Setup, meter: Meter, system: WorkerSystem, sizes: Sizes
) -> float:
    """Redis commands one idle worker sends per second, past its start-up."""
    meter.flush()
    worker = Process(f"idle-{system.key}", system.worker, system.env, setup.logdir, system.cwd)
    try:
        time.sleep(min(2.0, 2 * sizes.idle_seconds))  # its start-up (shorter in --quick)
        meter.reset()
        time.sleep(sizes.idle_seconds)
        return meter.commands() / sizes.idle_seconds
    finally:
        worker.stop()
