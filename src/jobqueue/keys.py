"""Names of the Redis keys the service owns (arq's own keys are in `arq.constants`).

- `jobqueue:record:{id}`     hash: a job's history record, kept for the history retention
- `jobqueue:index:{filter}`  sorted set, all scores 0, members `{inverted ms}:{job id}` so that
                             lexical order is newest first and a page is one ZRANGE BYLEX
- `jobqueue:events`          stream: every transition of every job (the live feed)
- `jobqueue:events:{id}`     stream: one job's transitions (replayed by its SSE route)
- `jobqueue:wake:{queue}`    pub/sub channel: a job is due now (workers wake up)
"""

RECORD_PREFIX = "jobqueue:record:"
INDEX_PREFIX = "jobqueue:index:"
EVENTS = "jobqueue:events"
JOB_EVENTS_PREFIX = "jobqueue:events:"
WORKERS = "jobqueue:workers"
WORKER_PREFIX = "jobqueue:worker:"
FINISHED_COUNT_PREFIX = "jobqueue:finished:"
METRICS_PREFIX = "jobqueue:metrics:"

# Index members sort newest first: 13 digits covers epoch milliseconds until the year 2286.
_MS_CEILING = 9_999_999_999_999


def record(job_id: str) -> str:
    return RECORD_PREFIX + job_id


def job_events(job_id: str) -> str:
    return JOB_EVENTS_PREFIX + job_id


def index(*, status: str | None = None, function: str | None = None) -> str:
    if function is not None and status is not None:
        return f"{INDEX_PREFIX}function:{function}:status:{status}"
    if function is not None:
        return f"{INDEX_PREFIX}function:{function}"
    if status is not None:
        return f"{INDEX_PREFIX}status:{status}"
    return f"{INDEX_PREFIX}all"


STORED_STATUSES = ("waiting", "in_progress", "succeeded", "failed", "aborted")


def all_indexes(functions: list[str]) -> list[str]:
    """Every index key that jobs of these functions can be in."""
    found = [index(), *(index(status=s) for s in STORED_STATUSES)]
    for function in functions:
        found += [index(function=function), *(index(function=function, status=s)
                                              for s in STORED_STATUSES)]  # fmt: skip
    return found


def index_member(enqueue_ms: int, job_id: str) -> str:
    return f"{_MS_CEILING - enqueue_ms:013d}:{job_id}"


def member_job_id(member: str) -> str:
    return member[14:]


def member_enqueue_ms(member: str) -> int:
    return _MS_CEILING - int(member[:13])


def wake_channel(queue_name: str) -> str:
    """Published to when a job is due now, so idle workers start it at once."""
    return f"jobqueue:wake:{queue_name}"


def worker(worker_id: str) -> str:
    return WORKER_PREFIX + worker_id


COUNT_BUCKET_SECONDS = 10


def finished_count(queue: str, outcome: str, bucket: int) -> str:
    """Jobs of `queue` that ended with `outcome` in 10-second bucket `bucket` (epoch s // 10)."""
    return f"{FINISHED_COUNT_PREFIX}{queue}:{outcome}:{bucket}"
