"""The report's worker sections: throughput, and Redis commands per job on both sides."""

from typing import Any

from bench.figures import cell
from bench.peers import KINDS
from bench.verdicts import KIND_NAMES


def workers(raw: dict[str, Any]) -> list[str]:
    meta, workers = raw["meta"], raw["workers"]
    lines = [
        f"## 1. Worker throughput ({meta['jobs']:,} jobs pre-queued, one worker process, "
        "time to drain)",
        "",
        "Each system's worker gets the same two workloads: no-op jobs and jobs that sleep "
        "10 ms (`asyncio.sleep`, or `time.sleep` in dramatiq's threads). Jobs/s counts from "
        f"the first finished job on, until the queue is empty or {meta['window']:g} s have "
        "passed (arq's defaults run a 10 ms job about 20 times a second).",
        "",
        "| worker | no-op jobs/s | 10 ms jobs/s | worker CPU µs / no-op job "
        "| worker cores busy, no-op | Redis CPU µs / no-op job | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in meta["order"]:
        name = meta["names"][key]
        if key in raw["skipped"]:
            lines.append(f"| {name} | {raw['skipped'][key]} | | | | | |")
            continue
        noop, sleep = workers[key]["noop"], workers[key]["sleep10"]
        busy = [
            r * us / 1e6
            for r, us in zip(noop["jobs_per_s"], noop["worker_cpu_us_per_job"], strict=True)
        ]
        lines.append(
            f"| {name} | {cell(noop['jobs_per_s'])} | {cell(sleep['jobs_per_s'])} "
            f"| {cell(noop['worker_cpu_us_per_job'])} | {cell(busy, 2)} "
            f"| {cell(noop['redis_cpu_us_per_job'])} | {cell(noop['rss_mib'], 1)} |"
        )
    lines += [
        "",
        "A worker is one process (dramatiq's and taskiq's: a supervisor and one worker "
        "child, both counted). Cores busy is jobs/s times CPU per job: near 1, a worker is "
        "CPU-bound and its jobs/s is about 1,000,000 / (its CPU µs per job); well below 1, it "
        "spends the time waiting (on Redis, on its own scheduling, on the GIL).",
        *_swings(raw),
        "",
        "How each ran:",
        "",
    ]
    for key in meta["order"]:
        versions = ", ".join(meta["versions"].get(key, []))
        lines.append(
            f"- **{meta['names'][key]}**: {meta['about'][key]}"
            + (f" ({versions})" if versions else "")
        )
    return lines


def _swings(raw: dict[str, Any]) -> list[str]:
    """Systems whose jobs/s varied by more than half from one round to another."""
    names, found = raw["meta"]["names"], []
    for key, kinds in raw["workers"].items():
        for kind in KINDS:
            rates = kinds[kind]["jobs_per_s"]
            if max(rates) > 1.5 * min(rates):
                found.append(
                    f"{names[key]}, {KIND_NAMES[kind]}: {min(rates):,.0f} to {max(rates):,.0f}"
                )
    if not found:
        return []
    return ["", f"Widest swings from round to round (jobs/s): {'; '.join(found)}."]


def commands(raw: dict[str, Any]) -> list[str]:
    meta, workers = raw["meta"], raw["workers"]
    lines = [
        "## 2. Redis commands per job, both sides",
        "",
        "Counted by the server (`INFO commandstats` deltas around each phase, the harness's "
        "own commands taken out): every command it ran, including those run inside Lua "
        "scripts and MULTI blocks. Enqueue: the system's own client pre-queueing the jobs (the "
        "service: `POST /v1/jobs` through its API). Worker: from its start until drained, "
        "per job done (start-up and polling included).",
        "",
        "| system | enqueue | worker | total, no-op | total, 10 ms |",
        "|---|---|---|---|---|",
    ]
    for key in meta["order"]:
        name = meta["names"][key]
        if key in raw["skipped"]:
            lines.append(f"| {name} | {raw['skipped'][key]} | | | |")
            continue
        noop, sleep = workers[key]["noop"], workers[key]["sleep10"]
        lines.append(
            f"| {name} | {cell(noop['enqueue_commands_per_job'], 1)} "
            f"| {cell(noop['worker_commands_per_job'], 1)} "
            f"| {cell(noop['total_commands_per_job'], 1)} "
            f"| {cell(sleep['total_commands_per_job'], 1)} |"
        )
    lines += ["", "Idle Redis load, one idle worker (commands/s):", ""]
    lines += [
        f"- {meta['names'][key]}: {rate:,.1f}" for key, rate in raw["idle_commands_per_s"].items()
    ]
    return lines
