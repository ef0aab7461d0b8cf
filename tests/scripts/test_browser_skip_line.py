"""Without a Chromium the browser tests are skipped and the run ends saying so, and how to
enable them."""

import os
import subprocess
import sys

from scripts.processes import REPO_ROOT
from tests.browser.chromium import ENABLE_HINT


def test_a_run_without_chromium_ends_with_how_to_enable_the_browser_tests() -> None:
    env = {**os.environ, "CHROMIUM_PATH": str(REPO_ROOT / "no-such-chromium")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*command, "tests/browser/test_docs_offline.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "skipped" in run.stdout
    # (a line of its own: `-ra` also names the reason, after the skipped tests' ids)
    assert ENABLE_HINT in run.stdout.splitlines(), run.stdout
