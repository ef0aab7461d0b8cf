"""The run directory's lock: one `make run` at a time per run directory (the private Redis's
data lives there, and two redis-servers on one append-only file corrupt it).

`fcntl.flock` on `<run dir>/lock`, not a pid file alone: the kernel drops the lock when the last
descriptor of it closes, so a killed run never leaves a stale lock behind. Every process a run
starts inherits that descriptor, so the lock lasts as long as any of them does: a redis-server
left over from a killed run still keeps a second one off its data. The file names the holders
("<name> <pid>" lines), only to say who is in the way.
"""

import fcntl
import os
from pathlib import Path

RUN_NAME = "make-run"  # the first line: the run itself; then the processes it started


class RunDirBusy(Exception):
    """Another run holds the lock; the message says which one and what to do."""


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / "lock"
        self.fd = -1

    def acquire(self) -> None:
        """Take the lock and record this process, or raise `RunDirBusy`. Never blocks."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Never deleted: removing a lock file while another run has it open but not yet locked
        # would let both "hold" it, on two different files.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holders = _read_holders(fd)
            os.close(fd)
            raise RunDirBusy(busy_message(self.run_dir, holders)) from None
        self.fd = fd
        os.ftruncate(fd, 0)
        self.record(RUN_NAME, os.getpid())

    def record(self, name: str, pid: int) -> None:
        """Note a process that holds the lock (a child started with `pass_fds=(lock.fd,)`)."""
        os.write(self.fd, f"{name} {pid}\n".encode())

    def release(self) -> None:
        """Close our descriptor; the lock is free once no child holds it either."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _read_holders(fd: int) -> list[tuple[str, int]]:
    holders = []
    for line in os.pread(fd, 4096, 0).decode(errors="replace").splitlines():
        name, _, pid = line.rpartition(" ")
        if name and pid.isdigit():
            holders.append((name, int(pid)))
    return holders


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but it exists
        return True
    return True


def busy_message(run_dir: Path, holders: list[tuple[str, int]]) -> str:
    """Who holds the lock: the other run if it still lives, else what it left behind."""
    if not holders or holders[0][0] != RUN_NAME:  # it has only just taken the lock
        return f"{run_dir} is in use by another make run; stop that one first"
    run_pid = holders[0][1]
    if is_alive(run_pid):
        return (
            f"{run_dir} is in use by another make run (pid {run_pid}); "
            f"stop that one first (Ctrl-C in its terminal, or kill {run_pid})"
        )
    left = [(name, pid) for name, pid in holders[1:] if is_alive(pid)]
    if not left:
        return (
            f"{run_dir} is still locked by a process a killed make run (pid {run_pid}) left "
            f"running; find it with: fuser -v {run_dir / 'lock'}"
        )
    named = ", ".join(f"{name} (pid {pid})" for name, pid in left)
    pids = " ".join(str(pid) for _, pid in reversed(left))  # Redis last, as a run stops them
    return (
        f"{run_dir} is still in use by what a killed make run (pid {run_pid}) left running: "
        f"{named}; stop them (kill {pids}) and try again"
    )
