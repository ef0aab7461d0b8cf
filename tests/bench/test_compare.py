"""`python -m bench.compare` runs a before/after round (here against this checkout itself)."""

import re
import subprocess
import sys

from scripts.processes import REPO_ROOT


def test_compare_reports_both_checkouts_and_their_per_round_ratio() -> None:
    command = [
        sys.executable,
        "-m",
        "bench.compare",
        "--baseline-root",
        str(REPO_ROOT),
        "--baseline-python",
        sys.executable,
        "--rounds",
        "1",
        "--jobs",
        "200",
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"baseline: \d+ µs/job", done.stdout), done.stdout
    assert re.search(r"this    : \d+ µs/job", done.stdout), done.stdout
    assert re.search(r"this / baseline, per round: median \d+\.\d\d", done.stdout), done.stdout
