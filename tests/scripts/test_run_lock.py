"""The run directory's lock (scripts/run_lock.py): held for as long as the run or anything it
started lives, and never left stale by a run that was killed."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.processes import REPO_ROOT
from scripts.run_lock import RunDirBusy, RunLock
from tests.helpers import eventually

# Takes the lock, says so, then waits to be killed.
HOLD = """
import sys, time
from pathlib import Path
from scripts.run_lock import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(60)
"""

# Takes the lock, starts a child that inherits it (not our output pipe, which would keep
# `subprocess.run` waiting), and exits, leaving the child running.
LEAVE_A_CHILD = """
import subprocess, sys
from pathlib import Path
from scripts.run_lock import RunLock
lock = RunLock(Path(sys.argv[1]))
lock.acquire()
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    pass_fds=(lock.fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
lock.record("redis-server", child.pid)
print(child.pid, flush=True)
"""


@pytest.fixture
def lock(tmp_path: Path) -> Iterator[RunLock]:
    held = RunLock(tmp_path)
    yield held
    held.release()


def python(script: str, run_dir: Path) -> list[str]:
    return [sys.executable, "-c", script, str(run_dir)]


def test_a_second_lock_on_the_run_dir_is_refused_naming_the_holders_pid(
    tmp_path: Path, lock: RunLock
) -> None:
    lock.acquire()
    with pytest.raises(RunDirBusy, match=rf"another make run \(pid {os.getpid()}\)"):
        RunLock(tmp_path).acquire()


def test_a_killed_runs_lock_does_not_block_the_next_run(tmp_path: Path, lock: RunLock) -> None:
    holder = subprocess.Popen(python(HOLD, tmp_path), cwd=REPO_ROOT, stdout=subprocess.PIPE)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(RunDirBusy):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    lock.acquire()  # the kernel dropped the lock with the process; its pid in the file is no bar
    assert (tmp_path / "lock").read_text() == f"make-run {os.getpid()}\n"


async def test_a_child_left_running_by_a_killed_run_keeps_the_lock_and_is_named(
    tmp_path: Path, lock: RunLock
) -> None:
    left = await asyncio.to_thread(
        subprocess.run,
        python(LEAVE_A_CHILD, tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    child_pid = int(left.stdout)
    try:
        with pytest.raises(RunDirBusy) as refused:
            lock.acquire()
        message = str(refused.value)
        assert (
            f"left running: redis-server (pid {child_pid}); stop them (kill {child_pid})" in message
        )
    finally:
        os.kill(child_pid, signal.SIGKILL)
    await eventually(lambda: _acquired(lock), timeout=5, what="the lock to be free")


def _acquired(lock: RunLock) -> bool:
    try:
        lock.acquire()
    except RunDirBusy:
        return False
    return True
