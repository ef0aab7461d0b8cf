"""`make faults`: every scenario in turn against one durable Redis, one API and the ledger;
writes the raw figures (JSON) and, for a full run, the report beside them (markdown).

    python -m faults.run                                  # the full run (~15 minutes at most)
    python -m faults.run --quick                          # SIGKILL, SIGTERM, Redis kill -9
    python -m faults.run --into docs/reliability.json     # where the figures go
    python -m faults.run --only sigkill,cron              # some scenarios (for development)
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import report
from faults.harness import Harness, open_harness
from faults.scenarios import cron, idempotency, redis_kill, redis_oom, redis_stall, sigkill, sigterm
from scripts.processes import REPO_ROOT

Scenario = Callable[[Harness], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "sigkill": sigkill.run,
    "sigterm": sigterm.run,
    "redis_kill": redis_kill.run,
    "redis_oom": redis_oom.run,
    "redis_stall": redis_stall.run,
    "cron": cron.run,
    "idempotency": idempotency.run,
}
QUICK = ["sigkill", "sigterm", "redis_kill"]


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="three scenarios, fewer faults")
    parser.add_argument("--into", type=Path, default=None, help="the JSON figures' path")
    parser.add_argument("--only", default=None, help=f"comma-separated: {', '.join(SCENARIOS)}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    options = _options(argv)
    _clean_environment()
    chosen = QUICK if options.quick else list(SCENARIOS)
    if options.only:
        chosen = [name.strip() for name in options.only.split(",") if name.strip()]
        if unknown := set(chosen) - set(SCENARIOS):
            raise SystemExit(f"--only: unknown {sorted(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="jobqueue-faults-"))
    started = time.monotonic()
    try:
        results = asyncio.run(_run(chosen, options.quick, workdir))
    except BaseException:
        print(f"logs of every process and the ledger: {workdir}", file=sys.stderr)
        raise
    raw: dict[str, Any] = {
        "meta": _meta(options.quick, time.monotonic() - started, workdir),
        "scenarios": results,
    }
    # Kept, good run or not: the logs and the ledger are the figures' evidence (in /tmp).
    raw["meta"]["kept_workdir"] = str(workdir)
    if options.into is not None:
        options.into.parent.mkdir(parents=True, exist_ok=True)
        options.into.write_text(json.dumps(raw, indent=1) + "\n")
        if not options.quick:
            options.into.with_suffix(".md").write_text(report.render(raw))
    print(report.summary(raw))
    return raw


async def _run(chosen: list[str], quick: bool, workdir: Path) -> list[dict[str, Any]]:
    results = []
    async with open_harness(quick, workdir) as harness:
        for name in chosen:
            print(f"scenario: {name}", flush=True)
            result = await SCENARIOS[name](harness)
            print(report.scenario_line(result), flush=True)
            results.append(result)
    return results


def _meta(quick: bool, took_s: float, workdir: Path) -> dict[str, Any]:
    return {
        "generated": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "quick": quick,
        "took_s": round(took_s, 1),
        "commit": _revision(),
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis": _redis_version(),
        "workdir": str(workdir),
    }


def _revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} (uncommitted changes)" if git("status", "--porcelain") else commit


def _redis_version() -> str:
    found = shutil.which("redis-server")
    if found is None:
        return "none"
    return subprocess.run([found, "--version"], capture_output=True, text=True).stdout.strip()


def _clean_environment() -> None:
    """The processes under test inherit this one's environment: a `JOBQUEUE_*` of the caller's
    would change what is measured, and a proxy setting would send the workers' loopback
    webhooks elsewhere."""
    for name in list(os.environ):
        if name.startswith("JOBQUEUE_") or name.lower() in {
            "http_proxy",
            "https_proxy",
            "all_proxy",
        }:
            del os.environ[name]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def missed(raw: dict[str, Any]) -> list[str]:
    """The targets a run missed, as "scenario: target"."""
    return [
        f"{scenario['key']}: {t['name']}"
        for scenario in raw["scenarios"]
        for t in scenario["targets"]
        if not t["met"]
    ]


if __name__ == "__main__":
    sys.exit(1 if missed(main()) else 0)  # (the report is written either way)
