"""The one vocabulary of statuses and event types."""

from typing import get_args

from jobqueue.history.vocabulary import RETRYABLE_STATUSES, RetryableStatus


def test_the_retryable_literal_is_the_retryable_statuses() -> None:
    assert set(get_args(RetryableStatus)) == {s.value for s in RETRYABLE_STATUSES}
