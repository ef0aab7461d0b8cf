"""`make bench`: the service's worker against arq (defaults and tuned), SAQ, dramatiq and
taskiq, its REST API against a plain endpoint and the HTTP ceiling, and the Redis memory a
finished job keeps, in one run.

Writes a markdown report and the raw figures (JSON). Conclusions rest on ratios measured
round by round in the same run: the machine is shared and noisy.

    python -m bench.run            # the full run (about a quarter of an hour at most)
    python -m bench.run --quick    # a smoke run: tiny sizes, one round, no wrk, no venv peers
    python -m bench.run --service-root ../old --service-python ../old/.venv/bin/python
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import history_memory, loadgen, report, rest, systems, throughput
from bench.batch import batch_enqueue
from bench.harness import REPO_ROOT, Meter, RedisServer
from bench.latency import end_to_end
from bench.systems import Setup

NOT_IN_QUICK = "not run in --quick"


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny and fast")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs", help="report folder")
    parser.add_argument(
        "--service-root", type=Path, default=REPO_ROOT, help="the service checkout to measure"
    )
    parser.add_argument(
        "--service-python",
        type=Path,
        default=None,
        help="the python of the service's venv, its arq and uvicorn beside it (default: "
        "SERVICE_ROOT/.venv/bin/python; for this repo, also the running python)",
    )
    parser.add_argument(
        "--load-generator",
        choices=["auto", loadgen.WRK, loadgen.PYTHON],
        default=None,
        help="HTTP load: auto (wrk if installed, the default) or python (the default in --quick)",
    )
    parser.add_argument(
        "--systems",
        default=None,
        help=f"comma-separated worker systems (default: all; in --quick, all but the venv "
        f"peers): {', '.join(systems.KEYS)}",
    )
    return parser.parse_args()


def _sizes(quick: bool) -> dict[str, Any]:
    if quick:
        return {"rounds": 1, "jobs": 200, "window": 2.0, "idle_seconds": 0.5, "rest_rounds": 1,
                "seconds": 1.0, "connections": 8, "e2e_samples": 10,
                "history_jobs": history_memory.QUICK_JOBS}  # fmt: skip
    return {"rounds": 5, "jobs": 5000, "window": 10.0, "idle_seconds": 3.0, "rest_rounds": 7,
            "seconds": 5.0, "connections": 64, "e2e_samples": 200,
            "history_jobs": history_memory.FULL_JOBS}  # fmt: skip


def _chosen(options: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The worker systems to run, and those left out on purpose (with why)."""
    if options.systems:
        keys = [k.strip() for k in options.systems.split(",") if k.strip()]
        unknown = set(keys) - set(systems.KEYS)
        if unknown or systems.SERVICE not in keys:
            raise SystemExit(f"--systems: unknown {sorted(unknown)} or no 'service'")
        return keys, {k: "not run (--systems)" for k in systems.KEYS if k not in keys}
    if options.quick:
        return [k for k in systems.KEYS if k not in systems.VENV_PEERS], dict.fromkeys(
            systems.VENV_PEERS, NOT_IN_QUICK
        )
    return list(systems.KEYS), {}


def _service_python(options: argparse.Namespace) -> Path:
    """The given one, else the service root's own venv; this repo may run from any venv."""
    if options.service_python is not None:
        return Path(options.service_python).absolute()
    own: Path = options.service_root / ".venv" / "bin" / "python"
    if own.exists():
        return own.absolute()
    if options.service_root.resolve() == REPO_ROOT:
        return Path(sys.executable)
    raise SystemExit(f"no {own}: give --service-python (the service's own venv)")


def main() -> None:
    options = _options()
    sizes = _sizes(options.quick)
    generator = loadgen.choose(
        options.load_generator or (loadgen.PYTHON if options.quick else "auto")
    )
    workdir = Path(tempfile.mkdtemp(prefix="jobqueue-bench-"))
    server = RedisServer(workdir / "redis")
    server.start()
    setup = Setup(
        service_root=options.service_root.resolve(),
        service_python=_service_python(options),
        redis_url=server.url,
        logdir=workdir,
    )
    started = time.monotonic()
    try:
        raw = measure(setup, Meter(server), options, sizes, generator)
    except BaseException:
        print(f"logs of every process: {workdir}", file=sys.stderr)
        raise
    finally:
        server.stop()
    shutil.rmtree(workdir)  # kept only when the run failed
    raw["meta"]["took_s"] = time.monotonic() - started
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "benchmarks.json").write_text(json.dumps(raw, indent=1))
    text = report.render(raw)
    (options.out / "benchmarks.md").write_text(text)
    print(text)


def measure(
    setup: Setup, meter: Meter, options: argparse.Namespace, sizes: dict[str, Any], generator: str
) -> dict[str, Any]:
    keys, left_out = _chosen(options)
    chosen, failed = systems.build(setup, keys)
    worker_sizes = throughput.Sizes(
        sizes["rounds"], sizes["jobs"], sizes["window"], sizes["idle_seconds"]
    )
    workers, breakdowns = throughput.measure_rounds(setup, meter, chosen, worker_sizes)
    raw: dict[str, Any] = {
        "meta": _meta(setup, sizes, generator, options.quick, chosen),
        "skipped": {**left_out, **failed},
        "workers": workers,
        "commands_by_name": breakdowns,
        "idle_commands_per_s": {},
    }
    for system in chosen:
        print(f"idle Redis load: {system.name}", flush=True)
        raw["idle_commands_per_s"][system.key] = throughput.idle_commands_per_second(
            setup, meter, system, worker_sizes
        )
    spec = rest.Load(generator, sizes["rest_rounds"], sizes["seconds"], sizes["connections"])
    raw["rest"] = rest.rest_enqueue(setup, meter, spec)
    print("batch enqueue", flush=True)
    raw["batch"] = batch_enqueue(setup, meter, sizes["rounds"])
    print("end to end", flush=True)
    raw["e2e"] = end_to_end(setup, meter, sizes["rounds"], sizes["e2e_samples"])
    print("history memory", flush=True)
    raw["history_memory"] = history_memory.measure(setup, meter, sizes["history_jobs"])
    return raw


def _meta(
    setup: Setup,
    sizes: dict[str, Any],
    generator: str,
    quick: bool,
    chosen: list[systems.WorkerSystem],
) -> dict[str, Any]:
    return {
        **sizes,
        "generated": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "quick": quick,
        "load_generator": generator,
        "service_root": str(setup.service_root),
        "service_python": str(setup.service_python),
        "service_revision": setup.service_revision(),
        "order": list(systems.KEYS),
        "names": systems.NAMES,
        "about": systems.ABOUT,
        "versions": {s.key: list(s.versions) for s in chosen},
    }


if __name__ == "__main__":
    main()
