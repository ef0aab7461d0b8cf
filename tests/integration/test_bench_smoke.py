"""The benchmark harness runs end to end (tiny sizes; no timing is asserted)."""

import subprocess
import sys
from pathlib import Path

from tests.helpers.services import REPO_ROOT


def test_the_benchmark_harness_writes_its_report(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=240,
    )
    report = (tmp_path / "benchmarks.md").read_text()
    for section in ("Worker throughput", "REST enqueue", "Batch enqueue", "End to end", "Memory"):
        assert section in report
    assert (tmp_path / "benchmarks.json").read_text().startswith("{")
