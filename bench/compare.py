"""Before and after: the service's worker from another checkout against this one, in turns.

    python -m bench.compare --baseline-root ../old [--baseline-python ../old/.venv/bin/python]
                            [--kind noop|sleep10] [--rounds 8]

Each round runs both (the order alternating) on the same private Redis and reports worker CPU
per job and jobs/s; the per-round ratio (this checkout / the baseline) and its range say whether
a change moved the worker beyond the machine's noise. Both run only through their stable entry
points, each from its own root and venv (see `bench.systems`).
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench import systems, throughput
from bench.harness import REPO_ROOT, Meter
from scripts.processes import RedisServer


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline-root", type=Path, required=True)
    parser.add_argument("--baseline-python", type=Path)
    parser.add_argument("--kind", choices=("noop", "sleep10"), default="noop")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=5000)
    return parser.parse_args()


def main() -> None:
    options = _options()
    baseline = options.baseline_root.resolve()
    pythons = {
        "baseline": options.baseline_python or baseline / ".venv" / "bin" / "python",
        "this": Path(sys.executable),
    }
    roots = {"baseline": baseline, "this": REPO_ROOT}
    workdir = Path(tempfile.mkdtemp(prefix="jobqueue-compare-"))
    server = RedisServer(workdir / "redis")
    server.start()
    meter = Meter(server)
    setups = {k: systems.Setup(roots[k], pythons[k], server.url, workdir) for k in roots}
    workers = {k: systems.build(setup, [systems.SERVICE])[0][0] for k, setup in setups.items()}
    sizes = throughput.Sizes(rounds=1, jobs=options.jobs, window=10.0, idle_seconds=1)
    cpu: dict[str, list[float]] = {k: [] for k in roots}
    rate: dict[str, list[float]] = {k: [] for k in roots}
    try:
        for round_index in range(options.rounds):
            for key in ("baseline", "this")[:: 1 if round_index % 2 == 0 else -1]:
                figures, _ = throughput.measure_once(
                    setups[key], meter, workers[key], options.kind, sizes
                )
                cpu[key].append(figures["worker_cpu_us_per_job"])
                rate[key].append(figures["jobs_per_s"])
                print(
                    f"round {round_index + 1} {key:8} {cpu[key][-1]:5.0f} µs/job "
                    f"{rate[key][-1]:7,.0f} jobs/s",
                    flush=True,
                )
    finally:
        server.stop()
    for key in roots:
        print(
            f"{key:8}: {statistics.median(cpu[key]):.0f} µs/job, "
            f"{statistics.median(rate[key]):,.0f} jobs/s (medians)"
        )
    ratios = sorted(a / b for a, b in zip(cpu["this"], cpu["baseline"], strict=True))
    print(
        f"CPU per job, this / baseline, per round: median {statistics.median(ratios):.2f} "
        f"(range {ratios[0]:.2f} to {ratios[-1]:.2f})"
    )


if __name__ == "__main__":
    main()
