"""A job's view from its history record alone (once arq's keys have gone); a malformed field
is read as absent and named in a `CorruptJobData` error."""

import pytest

from jobqueue.history.records import enrich, view_from_record
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


FINISHED = {
    **RECORD,
    "status": "succeeded",
    "start_ms": "1790000000100",
    "finish_ms": "1790000000200",
}

# (case, field, malformed value): each is read as absent and named in a CorruptJobData error
MALFORMED_FIELDS = [
    ("status-unknown", "status", "exploded"),
    ("tries-not-an-integer", "tries", "two"),
    ("tries-a-float", "tries", "1.5"),
    ("stalls-not-an-integer", "stalls", "x"),
    ("enqueue_ms-not-an-integer", "enqueue_ms", "soon"),
    ("enqueue_ms-past-any-date", "enqueue_ms", "99999999999999999999"),
    ("start_ms-negative", "start_ms", "-1"),
    ("finish_ms-unicode-digits", "finish_ms", "١٢٣"),
    ("scheduled_ms-not-an-integer", "scheduled_ms", "later"),
    ("args-not-json", "args", "{"),
    ("args-not-an-object", "args", "[1, 2]"),
    ("error-not-json", "error", "oops"),
    ("error-not-an-error", "error", '{"type": 1}'),
    ("progress-not-json", "progress", "half"),
    ("progress-not-a-progress", "progress", '{"current": "half"}'),
]


@pytest.mark.parametrize(
    ("field", "value"), [c[1:] for c in MALFORMED_FIELDS], ids=[c[0] for c in MALFORMED_FIELDS]
)
def test_a_malformed_field_is_named_in_a_corrupt_job_data_error(field: str, value: str) -> None:
    view = view_from_record("j1", {**FINISHED, field: value})
    assert view.error is not None
    assert view.error.type == "CorruptJobData"
    assert view.error.message.startswith(f"record field {field!r}: ")
    assert value not in view.error.message
    assert view.status == (JobStatus.failed if field == "status" else JobStatus.succeeded)


def test_every_malformed_field_is_named() -> None:
    view = view_from_record("j1", {**FINISHED, "tries": "x", "args": "{"})
    assert view.error is not None
    assert "'tries'" in view.error.message
    assert "'args'" in view.error.message
    assert (view.tries, view.args) == (0, {})


def test_a_well_formed_record_has_no_error() -> None:
    view = view_from_record("j1", FINISHED)
    assert view.error is None
    assert view.finish_time is not None


def test_a_malformed_field_in_the_record_is_noted_on_a_view_from_arqs_keys() -> None:
    base = view_from_record("j1", FINISHED)
    view = enrich(base, {**FINISHED, "progress": "{"})
    assert view.error is not None
    assert view.error.type == "CorruptJobData"
