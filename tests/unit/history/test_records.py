"""A job's view from its history record alone (once arq's keys have gone)."""

import pytest

from jobqueue.history.records import view_from_record
from jobqueue.history.vocabulary import JobStatus

RECORD = {
    "function": "echo",
    "args": '{"message": "hi"}',
    "enqueue_ms": "1790000000000",
    "scheduled_ms": "4102444800000",  # 2100
    "tries": "1",
}


@pytest.mark.parametrize(
    ("stored", "public", "scheduled"),
    [
        ("waiting", JobStatus.deferred, True),
        ("in_progress", JobStatus.in_progress, False),
        ("succeeded", JobStatus.succeeded, False),
        ("failed", JobStatus.failed, False),
    ],
)
def test_scheduled_for_is_shown_only_while_the_job_waits(
    stored: str, public: JobStatus, scheduled: bool
) -> None:
    view = view_from_record("j1", {**RECORD, "status": stored})
    assert view.status == public
    assert (view.scheduled_for is not None) == scheduled
    assert view.args == {"message": "hi"}
