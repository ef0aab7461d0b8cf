"""Cron schedules as operators see them: in words, and when they run next (as arq computes)."""

from datetime import UTC, datetime

import pytest

from jobqueue.ops.crons import describe, next_run


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("*/5 * * * *", "Every 5 minutes"),
        ("* * * * *", "Every minute"),
        ("* * * * * */10", "Every 10 seconds"),  # our optional sixth field is seconds
        ("0 9 * * 1", "At 09:00 AM, only on Monday"),
    ],
)
def test_a_schedule_is_described_in_words(expression: str, words: str) -> None:
    assert describe(expression) == words


ARQS_MICROSECOND = 123_456  # arq runs cron jobs at this microsecond of the matching second


def test_the_next_run_is_the_next_matching_moment_after_now() -> None:
    now = datetime(2026, 11, 21, 10, 2, 30, tzinfo=UTC)
    assert next_run("*/5 * * * *", now) == datetime(
        2026, 11, 21, 10, 5, 0, ARQS_MICROSECOND, tzinfo=UTC
    )
    assert next_run("* * * * * */10", now) == datetime(
        2026, 11, 21, 10, 2, 40, ARQS_MICROSECOND, tzinfo=UTC
    )
