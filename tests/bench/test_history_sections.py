"""The history-memory section: which key is which kind, the per-job arithmetic, the report."""

from typing import Any

from bench.history_sections import (
    FEED,
    INDEXES,
    JOB_STREAMS,
    KINDS,
    OTHER,
    RECORDS,
    RESULTS,
    history_memory,
    kind_of,
    per_job,
)

KIB = 1024


def _section(retained_per_job: float, jobs: int = 1000) -> dict[str, Any]:
    empty = 2_000_000
    by_kind = {kind: {"keys": 0, "bytes": 0} for kind in KINDS}
    by_kind[RECORDS] = {"keys": jobs, "bytes": 500 * jobs}
    by_kind[INDEXES] = {"keys": 3, "bytes": 300 * jobs}
    by_kind[RESULTS] = {"keys": jobs, "bytes": 350 * jobs}
    by_kind[JOB_STREAMS] = {"keys": jobs, "bytes": 4800 * jobs}
    by_kind[FEED] = {"keys": 1, "bytes": 330 * jobs}
    return {
        "jobs": jobs,
        "used_memory": {
            "finished": empty + 7000 * jobs,
            "retained": empty + int(retained_per_job * jobs),
            "empty": empty,
        },
        "by_kind": by_kind,
        "feed_events": 3 * jobs,
        "generated": "2026-12-02 00:00 UTC",
        "service_root": "/src/jobqueue",
        "service_revision": "abc1234",
        "took_s": 4.2,
    }


def test_the_feed_is_told_from_the_jobs_own_streams() -> None:
    assert kind_of("jobqueue:events") == FEED
    assert kind_of("jobqueue:events:0123abcd") == JOB_STREAMS


def test_each_key_of_a_finished_job_has_its_kind() -> None:
    assert kind_of("jobqueue:record:0123abcd") == RECORDS
    assert kind_of("jobqueue:index:status:succeeded") == INDEXES
    assert kind_of("arq:result:0123abcd") == RESULTS
    assert kind_of("jobqueue:metrics:finished") == OTHER


def test_bytes_per_finished_job_retained_is_the_memory_above_empty_over_the_jobs() -> None:
    assert per_job(_section(900))["retained"] == 900
    assert per_job(_section(900))["finished"] == 7000


def test_the_key_space_is_the_retained_memory_no_kept_key_accounts_for() -> None:
    assert per_job(_section(900))["key_space"] == 900 - 500 - 300


def test_the_transient_keys_are_measured_and_estimated_apart() -> None:
    figures = per_job(_section(900))
    assert (figures["transient"], figures["transient_estimated"]) == (6100, 350 + 4800 + 330)


def test_results_streams_and_feed_events_are_counted_each() -> None:
    figures = per_job(_section(900))
    assert (figures["per_result"], figures["per_job_stream"]) == (350, 4800)
    assert figures["per_feed_event"] == 110


def test_the_report_states_the_target_the_figure_and_the_jobs() -> None:
    text = "\n".join(history_memory({"history_memory": _section(914.4, jobs=5000)}))
    assert "5,000 finished `echo` jobs" in text
    assert "at most 1 KB (1,024 bytes)" in text
    assert "**914 bytes** a job (met)" in text


def test_the_report_says_when_the_target_was_missed() -> None:
    text = "\n".join(history_memory({"history_memory": _section(KIB + 1, jobs=5000)}))
    assert "(**missed** in this run)" in text


def test_a_quick_runs_few_jobs_are_measured_but_not_judged() -> None:
    text = "\n".join(history_memory({"history_memory": _section(KIB + 100, jobs=300)}))
    assert "**1,124 bytes** a job (not judged with 300 jobs:" in text
    assert "missed" not in text


def test_a_run_from_before_the_section_renders_without_it() -> None:
    assert history_memory({})[-1] == "Not measured in this run."


def test_a_section_measured_apart_from_its_run_says_so() -> None:
    section = {**_section(900), "apart": True}
    text = "\n".join(history_memory({"history_memory": section}))
    assert "apart from the run above" in text


def test_a_section_measured_in_its_run_names_no_other_run() -> None:
    assert "apart" not in "\n".join(history_memory({"history_memory": _section(900)}))
