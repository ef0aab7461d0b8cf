"""The report's API sections: REST enqueue, batch enqueue, end to end, memory."""

from statistics import median
from typing import Any

from bench import rest
from bench.figures import cell, count, met


def rest_enqueue(raw: dict[str, Any]) -> list[str]:
    meta = raw["meta"]
    lines = [
        f"## 3. REST enqueue ({meta['connections']} connections, {meta['load_generator']}, "
        f"one uvicorn process each; {count(meta['rest_rounds'], 'round')} "
        f"of {meta['seconds']:g} s)",
        "",
        "The three servers run side by side and are loaded in turns, round after round. The "
        "load generator shares the two cores with the server and Redis: server CPU per "
        "request is the steadier figure."
        + (
            " The Python generator costs more CPU per request than wrk, so it caps the fastest "
            "server lower than wrk would."
            if meta["load_generator"] != "wrk"
            else ""
        ),
        "",
        "| endpoint | requests/s | p50 ms | p99 ms | server CPU µs / request "
        "| Redis commands / request | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, figures in raw["rest"].items():
        rss = cell(figures["rss_mib"], 1) if "rss_mib" in figures else "n/a"
        cpu = cell(figures["cpu_us_per_request"]) if "cpu_us_per_request" in figures else "n/a"
        commands = (
            cell(figures["commands_per_request"], 1) if "commands_per_request" in figures else "n/a"
        )
        lines.append(
            f"| {name} | {cell(figures['rps'])} | {cell(figures['p50_ms'], 2)} "
            f"| {cell(figures['p99_ms'], 2)} | {cpu} | {commands} | {rss} |"
        )
    return lines


def batch(raw: dict[str, Any]) -> list[str]:
    batch = raw["batch"]
    return [
        "## 4. Batch enqueue (`POST /v1/jobs/batch`, 1,000 jobs a request)",
        "",
        f"{cell(batch['jobs_per_s'])} jobs/s (target ≥ 8,000: "
        f"{met(median(batch['jobs_per_s']) >= 8000)}); "
        f"{cell(batch['commands_per_job'], 1)} Redis commands per job.",
    ]


def end_to_end(raw: dict[str, Any]) -> list[str]:
    meta = raw["meta"]
    lines = [
        f"## 5. End to end over REST ({meta['e2e_samples']} sequential jobs: POST, then "
        "`GET …/result?timeout=10`)",
        "",
        "The background load is echo jobs posted with `POST /v1/jobs/batch`, 10 every 20 ms.",
        "",
        "| load | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for name, figures in raw["e2e"].items():
        lines.append(
            f"| {name} | {cell(figures['p50_ms'], 1)} | {cell(figures['p95_ms'], 1)} "
            f"| {cell(figures['p99_ms'], 1)} |"
        )
    idle = raw["e2e"]["idle"]
    return [
        *lines,
        "",
        "Targets when idle: p50 ≤ 15 ms, p99 ≤ 40 ms "
        f"({met(median(idle['p50_ms']) <= 15 and median(idle['p99_ms']) <= 40)}). Redis load "
        f"with the API and one worker idle: {median(idle['redis_commands_per_s']):,.1f} "
        f"commands/s (target < ~100: {met(median(idle['redis_commands_per_s']) < 100)}).",
    ]


def memory(raw: dict[str, Any]) -> list[str]:
    idle = raw["e2e"]["idle"]
    service_rest = raw["rest"][rest.SERVICE]
    peaks = [idle["worker_rss_mib"], idle["api_rss_mib"], service_rest["rss_mib"]]
    return [
        "## 6. Memory (peak RSS)",
        "",
        f"- worker, during the end-to-end runs: {median(idle['worker_rss_mib']):.1f} MiB",
        f"- API, during the end-to-end runs: {median(idle['api_rss_mib']):.1f} MiB",
        f"- API, after the REST load runs: {median(service_rest['rss_mib']):.1f} MiB",
        "",
        f"Target: each under 120 MiB ({met(all(median(p) < 120 for p in peaks))}). The "
        "workers' peaks under load are in section 1.",
    ]
