"""The poll guard: an error reply ends one poll, not the worker; an outage is not its business."""

import pytest
from arq.worker import Worker
from redis.exceptions import ConnectionError, ResponseError
from structlog.testing import capture_logs

from jobqueue.worker.swaps import poll_guard
from jobqueue.worker.throttle import ThrottledLog


class FailingWorker:
    """Stands in for arq's `Worker` (the guard calls the method it wraps, then logs)."""

    queue_name = "arq:queue"

    def __init__(self, *errors: BaseException | None) -> None:
        self.errors = list(errors)


async def _fails(self: FailingWorker) -> None:
    error = self.errors.pop(0)
    if error is not None:
        raise error


@pytest.fixture(autouse=True)
def _fresh_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poll_guard, "throttled", ThrottledLog())


async def test_an_error_reply_is_logged_once_and_the_poll_goes_on() -> None:
    guarded = poll_guard._guarded(_fails, "worker.poll_failed", "worker.poll_recovered")  # type: ignore[arg-type]
    wrong = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    worker = FailingWorker(wrong, wrong, wrong, None)
    with capture_logs() as logs:
        for _ in range(4):
            await guarded(worker)  # type: ignore[arg-type]
    assert [(line["event"], line["repeats_left_out"]) for line in logs] == [
        ("worker.poll_failed", 0),
        ("worker.poll_recovered", 2),
    ]


async def test_an_outage_is_not_caught() -> None:
    guarded = poll_guard._guarded(_fails, "worker.poll_failed", "worker.poll_recovered")  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await guarded(FailingWorker(ConnectionError("down")))  # type: ignore[arg-type]


def test_install_wraps_the_poll_and_the_abort_check_and_its_undo_restores_them() -> None:
    poll, aborts = Worker._poll_iteration, Worker._cancel_aborted_jobs
    undo = poll_guard.install()
    try:
        assert Worker._poll_iteration is not poll
        assert Worker._cancel_aborted_jobs is not aborts
    finally:
        undo()
    assert (Worker._poll_iteration, Worker._cancel_aborted_jobs) == (poll, aborts)
