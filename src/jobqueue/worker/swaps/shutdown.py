"""Deploys that cost nothing: a wrapper of arq's signal handler, and a replacement of its close.

Matches arq 0.28.0. With `job_completion_wait` set (`JOBQUEUE_WORKER_SHUTDOWN_GRACE`), arq's
own SIGTERM/SIGINT handler (`Worker.handle_sig_wait_for_completion`) stops claiming at once,
lets running jobs finish within the grace, then cancels the rest and the main task. Around it:
- `handle_sig_wait_for_completion` first marks the worker `stopping` (`Lifecycle`), so that the
  job wrapper puts a job cancelled for the shutdown back without counting its try (an
  `interrupted` event), and arms a hard-exit backstop: whatever happens, the process exits 0
  once the grace and `EXIT_BACKSTOP_S` more have passed (the leases then recover its jobs);
- `close` replaces arq's: it waits (bounded) for the cancelled jobs' last writes and forgets
  their tasks (arq's gathers them, and one cancelled while writing its end re-raised the
  cancel: the process crashed before the rest of its shut-down), and bounds each Redis call by
  `redis_timeout` (with Redis down the worker's pool retries forever: it ignored SIGTERM), so
  `on_shutdown` always runs and the process exits 0.
The canaries in tests/unit/test_seams.py fail when arq's handler, its wait or `close` change.
Remove when arq puts cancelled jobs back uncounted and closes without Redis (or when arq's
worker is vendored).
"""

import asyncio
import os
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from signal import Signals

import structlog
from arq.worker import Worker

log = structlog.get_logger("jobqueue.worker")

EXIT_BACKSTOP_S = 8.0  # (the grace, 20 s, plus this stays under compose's 30 s stop_grace_period)


@dataclass
class Lifecycle:
    """Shared through arq's ctx (each job's ctx is a copy holding this same object)."""

    stopping: bool = False


def handle_sig_wait_for_completion(self: Worker, signum: Signals) -> None:
    lifecycle: Lifecycle | None = self.ctx.get("lifecycle")
    if lifecycle is not None and lifecycle.stopping:
        return  # a second signal: the shutdown is already on its way
    if lifecycle is not None:
        lifecycle.stopping = True
    grace = float(self._job_completion_wait)
    log.info("worker.stopping", signal=Signals(signum).name, grace_s=grace, running=len(self.tasks))
    _arm_backstop(grace + EXIT_BACKSTOP_S)
    _original_handler(self, signum)


def _arm_backstop(after_s: float) -> None:
    def exit_now() -> None:
        log.error("worker.hard_exit", after_s=after_s)
        os._exit(0)

    timer = threading.Timer(after_s, exit_now)
    timer.daemon = True
    timer.start()


async def close(self: Worker) -> None:
    timeout = _redis_timeout(self)
    running = [task for task in self.tasks.values() if not task.done()]
    if running:  # cancelled at the end of the grace: their last writes, bounded
        await asyncio.wait(running, timeout=timeout)
    self.tasks.clear()
    if self._pool is None:
        return
    with suppress(Exception):
        async with asyncio.timeout(timeout):
            await self.pool.delete(self.health_check_key)
    if self.on_shutdown:
        await self.on_shutdown(self.ctx)
    with suppress(Exception):
        async with asyncio.timeout(timeout):
            await self.pool.aclose()
    self._pool = None


def _redis_timeout(worker: Worker) -> float:
    settings = worker.ctx.get("settings")
    return float(getattr(settings, "redis_timeout", 2.0))


_original_handler = Worker.handle_sig_wait_for_completion


def install() -> Callable[[], None]:
    """Make arq's workers in this process shut down as above; returns the undo."""
    handler, original_close = Worker.handle_sig_wait_for_completion, Worker.close
    setattr(Worker, "handle_sig_wait_for_completion", handle_sig_wait_for_completion)  # noqa: B010
    setattr(Worker, "close", close)  # noqa: B010

    def undo() -> None:
        setattr(Worker, "handle_sig_wait_for_completion", handler)  # noqa: B010
        setattr(Worker, "close", original_close)  # noqa: B010

    return undo
