"""A short schemathesis run over every operation but the SSE streams (see `scripts.fuzz`):
no 5xx, every status declared, every body matching its schema. `make fuzz` runs a long one."""

from pathlib import Path

from scripts.fuzz import fuzz

SEED = 11  # fixed: the same requests each run (a failure reproduces; `make fuzz` varies them)


def test_schemathesis_finds_no_failure_in_any_operation(tmp_path: Path) -> None:
    report = fuzz(tmp_path, max_examples=12, max_time=None, seed=SEED)
    assert report.returncode == 0, report.output[-6000:]
    assert report.server_errors == 0, report.statuses
    assert report.requests > 500, report.statuses
    # The enqueue body's union builds valid requests: some enqueues are accepted.
    assert report.statuses[202] > 0, report.statuses
