"""The report's history-memory section (see `bench.history_memory`): which key is which kind,
the per-job arithmetic, and the section itself."""

from typing import Any

from arq.constants import result_key_prefix

from bench.figures import met
from jobqueue.store import keys

TARGET_BYTES = 1024  # issue #10: at most 1 KB per finished job retained
JUDGED_FROM_JOBS = 5000  # the full run's jobs (`bench.history_memory.FULL_JOBS`)
RECORDS, INDEXES, OTHER = "records", "indexes", "other"
RESULTS, JOB_STREAMS, FEED = "results", "job streams", "feed"
KINDS = (RECORDS, INDEXES, OTHER, RESULTS, JOB_STREAMS, FEED)  # the report's order
TRANSIENT = (RESULTS, JOB_STREAMS, FEED)
# Key names from this checkout's store: a measured checkout's keys named otherwise count as
# "other", and transient ones stay (its figure comes out too high, never too low).
_PREFIXES = (
    (keys.RECORD_PREFIX, RECORDS),
    (keys.INDEX_PREFIX, INDEXES),
    (keys.JOB_EVENTS_PREFIX, JOB_STREAMS),
    (result_key_prefix, RESULTS),
)
_HISTORY = "`JOBQUEUE_HISTORY_TTL`, `…_MAX_JOBS`"
# {kind: (what the report calls it, how long it stays)}
LABELS = {
    RECORDS: (f"records `{keys.RECORD_PREFIX}{{id}}`, their events copied in", _HISTORY),
    INDEXES: (f"indexes `{keys.INDEX_PREFIX}*`, two entries a job", _HISTORY),
    OTHER: ("other: counters, metrics, worker heartbeats", "(not per job)"),
    RESULTS: (f"arq results `{result_key_prefix}{{id}}`", "`JOBQUEUE_RESULT_TTL` (1 h)"),
    JOB_STREAMS: (f"jobs' own streams `{keys.JOB_EVENTS_PREFIX}{{id}}`", "a minute after the end"),
    FEED: (f"the all-jobs feed `{keys.EVENTS}`", "`JOBQUEUE_EVENTS_MAX_LENGTH`, `…_MAX_AGE`"),
}


def kind_of(key: str) -> str:
    if key == keys.EVENTS:  # before the prefixes: the feed's name starts the jobs' streams'
        return FEED
    return next((kind for prefix, kind in _PREFIXES if key.startswith(prefix)), OTHER)


def per_job(section: dict[str, Any]) -> dict[str, float]:
    """The report's figures: bytes per finished job retained (the target's), per kind of key
    per job, and per result, per job stream and per feed event."""
    jobs, memory, kinds = section["jobs"], section["used_memory"], section["by_kind"]
    retained = memory["retained"] - memory["empty"]
    kept = sum(kinds[kind]["bytes"] for kind in KINDS if kind not in TRANSIENT)
    figures = {kind: kinds[kind]["bytes"] / jobs for kind in KINDS}
    return {
        **figures,
        "retained": retained / jobs,
        "finished": (memory["finished"] - memory["empty"]) / jobs,
        # MEMORY USAGE counts a key's dict entry, not the key space's tables or expiry entries
        "key_space": (retained - kept) / jobs,
        # what deleting the transient keys gave back, and what MEMORY USAGE estimated for them
        "transient": (memory["finished"] - memory["retained"]) / jobs,
        "transient_estimated": sum(figures[kind] for kind in TRANSIENT),
        "per_result": _ratio(kinds[RESULTS]["bytes"], kinds[RESULTS]["keys"]),
        "per_job_stream": _ratio(kinds[JOB_STREAMS]["bytes"], kinds[JOB_STREAMS]["keys"]),
        "per_feed_event": _ratio(kinds[FEED]["bytes"], section["feed_events"]),
    }


def _ratio(total: float, count: int) -> float:
    return total / count if count else 0.0


def history_memory(raw: dict[str, Any]) -> list[str]:
    section = raw.get("history_memory")
    if section is None:  # a run from before the section existed
        return ["## 7. History memory in Redis", "", "Not measured in this run."]
    jobs, figures = section["jobs"], per_job(section)
    retained = figures["retained"]
    verdict = (
        met(retained <= TARGET_BYTES)
        if jobs >= JUDGED_FROM_JOBS
        else f"not judged with {jobs:,} jobs: the keys that are not per job weigh more on each; "
        f"the full run's {JUDGED_FROM_JOBS:,} are"
    )
    return [
        f"## 7. History memory in Redis (`INFO memory`, {jobs:,} finished `echo` jobs)",
        "",
        f"Target: at most 1 KB ({TARGET_BYTES:,} bytes) of Redis memory per finished job "
        f"retained. Measured: **{retained:,.0f} bytes** a job ({verdict}).",
        "",
        f"{jobs:,} `echo` jobs posted with `POST /v1/jobs/batch` ran on the service's worker "
        "(its crons put off a year: no sweep forgot or trimmed anything). Once all had finished "
        "and both processes had stopped, `used_memory` was read; again after deleting what goes "
        "by design (arq's results, the jobs' own streams, the all-jobs feed); and after FLUSHALL. "
        "Per job retained = (the second minus the empty one) / jobs. The rows are `MEMORY "
        f"USAGE` of every key (`SAMPLES 0`), summed by kind. {_when(section)}",
        "",
        "| kind of key | keys | bytes / job | stays |",
        "|---|---|---|---|",
        *_kind_rows(section, figures, [k for k in KINDS if k not in TRANSIENT]),
        "| the rest of `used_memory` (mostly the key space's tables and expiry times, which "
        f"`MEMORY USAGE` leaves out) | | {figures['key_space']:,.0f} | |",
        f"| **retained** | | **{retained:,.0f}** | |",
        *_kind_rows(section, figures, list(TRANSIENT)),
        f"| **all, as the finished jobs left it** | | **{figures['finished']:,.0f}** | |",
        "",
        *_notes(section, figures),
    ]


def _when(section: dict[str, Any]) -> str:
    where = f"`{section['service_root']}` at `{section['service_revision']}`"
    when = f"Measured on {section['generated']} ({where}) in {section['took_s']:.0f} s"
    if section.get("apart"):
        return f"{when}, by `python -m bench.history_memory`, apart from the run above."
    return f"{when}."


def _kind_rows(section: dict[str, Any], figures: dict[str, float], kinds: list[str]) -> list[str]:
    rows = []
    for kind in kinds:
        label, stays = LABELS[kind]
        found = section["by_kind"][kind]["keys"]
        rows.append(f"| {label} | {found:,} | {figures[kind]:,.0f} | {stays} |")
    return rows


def _notes(section: dict[str, Any], figures: dict[str, float]) -> list[str]:
    events = section["feed_events"]
    return [
        f"Each arq result: {figures['per_result']:,.0f} bytes. Each event in the feed: "
        f"{figures['per_feed_event']:,.0f} bytes ({events:,} events, "
        f"{events / section['jobs']:.1f} a job). Each finished job's own stream, while it "
        f"lasts: {figures['per_job_stream']:,.0f} bytes. `MEMORY USAGE` estimates (a stream's "
        f"radix tree most): the last three rows add up to {figures['transient_estimated']:,.0f} "
        f"bytes a job, `used_memory` fell by {figures['transient']:,.0f} when they went.",
    ]
