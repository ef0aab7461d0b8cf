"""Every run-time replacement of an arq internal, in one place; docs/seams.md lists them with the
other seams (in `jobqueue.store`), and tests/unit/test_seams.py pins the source each relies on.

- `pickup.start_jobs` replaces `arq.worker.Worker.start_jobs`: one script call claims a poll's
  jobs and answers `run_job`'s opening.
- `wakeup.WakeUp.poll` replaces `arq.worker.poll`: the worker wakes when a job is enqueued.
- `shutdown` wraps `Worker.handle_sig_wait_for_completion` and replaces `Worker.close`: a
  shutdown puts cancelled jobs back uncounted and always ends in `on_shutdown` and exit 0.
- `poll_guard` wraps `Worker._poll_iteration` and `Worker._cancel_aborted_jobs`: an error reply
  (a key of the wrong type) is logged, not the end of the worker.

Installed once, from the composition root (`worker_settings.py`). Tests that run an arq worker
in-process install them for their own scope only (`installed`).

When to vendor arq's worker instead: three of its methods are replaced outright (`start_jobs`,
`poll`, `close`); the other three are wrapped, arq's own code still running inside. Kept as
swaps because each is small and pinned, where a vendored worker (~900 lines) would have to be
kept in step with arq by hand. Vendor it if a fourth method must be replaced outright, or if
any piece of `run_job` must (../shared/CONVENTIONS.md).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from jobqueue.worker.swaps import pickup, poll_guard, shutdown
from jobqueue.worker.swaps.wakeup import WakeUp


def install(wakeup: WakeUp) -> None:
    """Install every swap for the life of the process."""
    pickup.install()
    wakeup.install()
    shutdown.install()
    poll_guard.install()


@contextmanager
def installed(wakeup: WakeUp) -> Iterator[None]:
    """Every swap, installed for the block only (then arq is as it was)."""
    undo = [pickup.install(), wakeup.install(), shutdown.install(), poll_guard.install()]
    try:
        yield
    finally:
        for restore in reversed(undo):
            restore()
