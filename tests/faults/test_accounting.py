"""The faults harness's accounting and targets, on made-up deliveries: a harness that cannot
see a duplicate, a failure or a fault that never bit would pass anything."""

from typing import Any

from faults.accounting import account
from faults.figures import at_least, target
from faults.ledger import ANSWERED, CUT, Delivery

SUCCEEDED: dict[str, Any] = {"status": "succeeded", "tries": 1, "stalls": 0}


def delivery(job_id: str, arrived: float, ended: float, outcome: str, pid: int = 1) -> Delivery:
    return Delivery(job_id, pid, arrived, ended, outcome)


def test_a_cut_run_then_its_rerun_is_expected_but_two_at_once_are_duplicated() -> None:
    deliveries = [
        delivery("rerun", 0.0, 1.0, CUT),
        delivery("rerun", 2.0, 3.0, ANSWERED, pid=2),
        delivery("overlap", 0.0, 5.0, CUT),
        delivery("overlap", 1.0, 2.0, ANSWERED, pid=2),  # while the first was still held
        delivery("again", 0.0, 1.0, ANSWERED),
        delivery("again", 4.0, 5.0, ANSWERED, pid=2),
    ]
    views: dict[str, dict[str, Any] | None] = dict.fromkeys(
        ("rerun", "overlap", "again"), SUCCEEDED
    )
    accounts = account(["rerun", "overlap", "again"], views, deliveries, [], 0.0)
    assert sorted(accounts.duplicated) == ["again", "overlap"]
    assert accounts.redelivered_after_cut == 1  # (rerun's; overlap's counts as duplicated)


def test_an_answer_then_a_kill_within_the_window_is_told_apart() -> None:
    deliveries = [delivery("j", 0.0, 1.0, ANSWERED, pid=7), delivery("j", 3.0, 4.0, ANSWERED, 8)]
    accounts = account(["j"], {"j": SUCCEEDED}, deliveries, [(7, 1.5)], 0.0)
    assert (accounts.duplicated, accounts.duplicated_after_kill) == ([], ["j"])


def test_a_later_kill_excuses_only_a_worker_that_never_logged_the_end() -> None:
    deliveries = [delivery("j", 0.0, 1.0, ANSWERED, pid=7), delivery("j", 5.0, 6.0, ANSWERED, 8)]
    kills = [(7, 2.5)]  # past the window: the worker had time to record the end

    def starved(pid: int, job_id: str) -> bool:
        return False  # its log stops before the run's end

    def finished(pid: int, job_id: str) -> bool:
        return True

    excused = account(["j"], {"j": SUCCEEDED}, deliveries, kills, 0.0, starved)
    assert (excused.duplicated, excused.duplicated_after_kill) == ([], ["j"])
    counted = account(["j"], {"j": SUCCEEDED}, deliveries, kills, 0.0, finished)
    assert (counted.duplicated, counted.duplicated_after_kill) == (["j"], [])


def test_a_kill_after_the_job_ran_again_excuses_nothing() -> None:
    deliveries = [delivery("j", 0.0, 1.0, ANSWERED, pid=7), delivery("j", 1.2, 2.0, ANSWERED, 8)]
    accounts = account(["j"], {"j": SUCCEEDED}, deliveries, [(7, 1.5)], 0.0)
    assert (accounts.duplicated, accounts.duplicated_after_kill) == (["j"], [])


def test_a_failed_job_is_counted_and_a_missing_one_lost() -> None:
    views: dict[str, dict[str, Any] | None] = {
        "failed": {"status": "failed", "error": {"type": "MaxTries"}},
        "gone": None,
    }
    accounts = account(["failed", "gone"], views, [], [], 0.0)
    assert accounts.failed == {"MaxTries": 1}
    assert accounts.lost == ["gone"]


def test_an_unmeasured_figure_misses_every_target() -> None:
    assert not target("p99", None, 20)["met"]
    assert not at_least("cut runs", None, 1)["met"]
    assert not at_least("cut runs", 0, 1)["met"]
    assert at_least("cut runs", 3, 1)["met"]
