"""The benchmark harness runs end to end in --quick: tiny sizes, no timing asserted, no wrk,
no peer virtualenvs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.processes import REPO_ROOT

SECTIONS = (
    "Summary",
    "Where the service loses",
    "Worker throughput",
    "Redis commands per job",
    "REST enqueue",
    "Batch enqueue",
    "End to end",
    "Memory",
    "History memory in Redis",
)


def _text(output: str | bytes | None) -> str:
    # TimeoutExpired keeps bytes even when the run was asked for text.
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _failing_wrk(folder: Path) -> Path:
    """A `wrk` first on PATH that fails: the quick run must not call wrk at all."""
    folder.mkdir()
    wrk = folder / "wrk"
    wrk.write_text("#!/bin/sh\necho 'wrk must not run in --quick' >&2\nexit 97\n")
    wrk.chmod(0o755)
    return folder


def test_quick_run_writes_every_section_without_wrk(tmp_path: Path) -> None:
    path = f"{_failing_wrk(tmp_path / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
    out = tmp_path / "report"
    command = [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)]
    try:
        run = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            timeout=150,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"bench.run --quick timed out\n{_text(exc.stdout)}\n{_text(exc.stderr)}")
    output = f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.returncode == 0, output
    report = (out / "benchmarks.md").read_text()
    missing = [s for s in SECTIONS if s not in report]
    assert not missing, f"sections missing: {missing}\n{output}"
    assert "wrk was not used" in report, output
    raw = json.loads((out / "benchmarks.json").read_text())
    assert raw["meta"]["load_generator"] == "python"
    assert {"service", "arq-defaults", "arq-tuned", "saq"} <= raw["workers"].keys()
    assert raw["skipped"] == {"dramatiq": "not run in --quick", "taskiq": "not run in --quick"}
    assert raw["history_memory"]["by_kind"]["records"]["keys"] == raw["meta"]["history_jobs"]
