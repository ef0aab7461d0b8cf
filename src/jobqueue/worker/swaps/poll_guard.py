"""A worker that survives Redis's error replies: a wrapper of arq's `Worker._poll_iteration`
and `Worker._cancel_aborted_jobs`.

Matches arq 0.28.0, whose `Worker.main` awaits `_poll_iteration` every poll and lets any error
end the worker: a key of the wrong type (`arq:queue` as a string, the abort set as a hash) fails
its read with WRONGTYPE every poll, and so would kill every worker started while it is there;
a job whose end fails so (`t.result()` re-raises it) would too. Each poll's error reply is
caught here and logged (`worker.poll_failed`, at most once a minute: `ThrottledLog`), and the
worker polls on; the jobs it runs go on, and it picks jobs up again as soon as the key is
fixed (`worker.poll_recovered`). The abort check is wrapped on its own, so that a bad abort set
stops only aborts, not the rest of the poll. Connection errors are not caught: they are
outages, handled as before. The canary in tests/unit/test_seams.py fails if either changes.
Remove when arq's worker survives a failed poll (or when arq's worker is vendored).
"""

from collections.abc import Awaitable, Callable

from arq.worker import Worker
from redis.exceptions import ResponseError

from jobqueue.worker.throttle import ThrottledLog

throttled = ThrottledLog()


def _guarded(
    original: Callable[[Worker], Awaitable[None]], event: str, recovery: str
) -> Callable[[Worker], Awaitable[None]]:
    async def guarded(self: Worker) -> None:
        try:
            await original(self)
        except ResponseError as error:  # (an error reply; the worker stays up)
            throttled.error(event, about=str(error), error=str(error), queue=self.queue_name)
        else:
            throttled.recovered(event, recovery)

    return guarded


def install() -> Callable[[], None]:
    """Make arq's workers in this process survive error replies; returns the undo."""
    poll, aborts = Worker._poll_iteration, Worker._cancel_aborted_jobs
    setattr(  # noqa: B010
        Worker, "_poll_iteration", _guarded(poll, "worker.poll_failed", "worker.poll_recovered")
    )
    setattr(  # noqa: B010
        Worker,
        "_cancel_aborted_jobs",
        _guarded(aborts, "worker.abort_check_failed", "worker.abort_check_recovered"),
    )

    def undo() -> None:
        setattr(Worker, "_poll_iteration", poll)  # noqa: B010
        setattr(Worker, "_cancel_aborted_jobs", aborts)  # noqa: B010

    return undo
