import pytest

from jobqueue.jobs.schedule import cron_fields


def test_five_fields_run_at_second_zero() -> None:
    fields = cron_fields("*/15 2,3 * * *")
    assert fields["second"] == 0
    assert fields["minute"] == {0, 15, 30, 45}
    assert fields["hour"] == {2, 3}
    assert fields["day"] is None


def test_a_sixth_field_gives_seconds() -> None:
    assert cron_fields("* * * * * */20")["second"] == {0, 20, 40}
    assert cron_fields("* * * * * *")["second"] is None


def test_weekdays_convert_from_cron_sunday_zero_to_python_monday_zero() -> None:
    assert cron_fields("0 0 * * 0")["weekday"] == {6}
    assert cron_fields("0 0 * * 1-5")["weekday"] == {0, 1, 2, 3, 4}


def test_unsupported_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        cron_fields("0 0 L * *")
