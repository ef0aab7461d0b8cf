"""Error lines that would repeat every poll, at most once per interval each."""

from structlog.testing import capture_logs

from jobqueue.worker.throttle import ThrottledLog


def test_a_repeated_error_is_logged_once_per_interval() -> None:
    throttled = ThrottledLog(interval_s=60)
    with capture_logs() as logs:
        for _ in range(20):
            throttled.error("worker.poll_failed", about="WRONGTYPE")
    assert [line["event"] for line in logs] == ["worker.poll_failed"]


def test_the_next_line_says_how_many_were_left_out() -> None:
    throttled = ThrottledLog(interval_s=0)
    with capture_logs() as logs:
        throttled.error("worker.poll_failed")
        throttled.error("worker.poll_failed")
    assert [line["repeats_left_out"] for line in logs] == [0, 0]
    throttled = ThrottledLog(interval_s=60)
    with capture_logs() as logs:
        for _ in range(3):
            throttled.error("worker.poll_failed")
        throttled.recovered("worker.poll_failed", "worker.poll_recovered")
    assert [(line["event"], line["repeats_left_out"]) for line in logs] == [
        ("worker.poll_failed", 0),
        ("worker.poll_recovered", 2),
    ]


def test_another_error_is_logged_at_once() -> None:
    throttled = ThrottledLog(interval_s=60)
    with capture_logs() as logs:
        throttled.error("worker.key_of_wrong_type", about="arq:job:a")
        throttled.error("worker.key_of_wrong_type", about="arq:job:b")
    assert len(logs) == 2


def test_after_a_recovery_the_next_failure_is_logged_at_once() -> None:
    throttled = ThrottledLog(interval_s=60)
    with capture_logs() as logs:
        throttled.error("worker.poll_failed")
        throttled.recovered("worker.poll_failed", "worker.poll_recovered")
        throttled.recovered("worker.poll_failed", "worker.poll_recovered")  # (once only)
        throttled.error("worker.poll_failed")
    assert [line["event"] for line in logs] == [
        "worker.poll_failed",
        "worker.poll_recovered",
        "worker.poll_failed",
    ]


def test_it_remembers_a_bounded_number_of_errors() -> None:
    throttled = ThrottledLog(interval_s=60)
    for i in range(5_000):
        throttled.error("worker.key_of_wrong_type", about=f"arq:job:{i}")
    assert len(throttled._last) <= 1000
