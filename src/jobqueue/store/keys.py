"""Names of every Redis key the service reads or writes: arq's (from `arq.constants`) and ours.

arq's:
- `arq:job:{id}`          string: the job's payload (see `arq_format`)
- `arq:result:{id}`       string: its result, once finished
- `arq:in-progress:{id}`  string: set while a worker holds the job
- `arq:retry:{id}`        string: the try counter
- `arq:abort`             sorted set: abort requests
- `{queue}`               sorted set: waiting jobs by due time (ms); running ones stay in it

Ours:
- `jobqueue:record:{id}`     hash: a job's history record, kept for the history retention
- `jobqueue:index:status:{s}`, `jobqueue:index:function:{f}:status:{s}`   sorted sets, all
                             scores 0, members `{inverted ms}:{job id}` so that lexical order
                             is newest first and a page is one ZRANGE BYLEX per index read
                             (the Lua scripts build these names from the prefix)
- `jobqueue:events`          stream: every transition of every job (the live feed)
- `jobqueue:events:{id}`     stream: one job's transitions (replayed by its SSE route); it
                             goes a minute after the job's end, when they are copied into
                             the record (fields `e:{stream id}`)
- `jobqueue:wake:{queue}`    pub/sub channel: a job is due now (workers wake up)
- `jobqueue:workers`, `jobqueue:worker:{id}`   worker heartbeats
- `jobqueue:leases:{worker id}`  set: the in-progress keys a worker claimed (so that its leases
                             can be released as soon as it is gone)
- `jobqueue:alive:{worker id}`   string with a TTL: the worker is alive (refreshed every tick)
- `jobqueue:lease-holders`   set: the ids of the workers that may hold leases
- `jobqueue:finished:{queue}:{status}:{bucket}`  jobs finished per 10 s
- `jobqueue:metrics:*`       Prometheus counters the workers add to (finished, retried,
                             stalled, duration:{function}, duration-functions)
- `jobqueue:stats:{queue}`   list: queue statistics snapshots, newest first
- `jobqueue:cursor-key`      string: the key that seals tenants' listing cursors (made once, by
                             whichever API process needs it first)
- `jobqueue:schedule:{name}` hash: a schedule's pause (`paused_by`, `paused_at_ms`) and latest
                             runs (`last_run`, `prior_run`, `last_slot_ms`)
- `jobqueue:session:{hash}`  hash: a dashboard login session (the key hash it logged in with,
                             its CSRF token), with a TTL; named by the SHA-256 of its cookie
- `jobqueue:tenants`         sorted set: each tenant with jobs, by its latest job's due time
                             (ms): the tenants whose queue statistics are recorded
- `jobqueue:tenant:{t}:queue:{queue}`  sorted set: a tenant's share of the queue (its jobs
                             waiting or running, scored as in the queue), written with it by
                             the scripts; the sweep drops what the queue no longer holds
- `jobqueue:tenant:{t}:finished:{queue}:{status}:{bucket}`, `jobqueue:tenant:{t}:stats:{queue}`
                             a tenant's finished counts and statistics snapshots, as the
                             queue's (the snapshots go with the history retention)

A tenant's job is stored under the id `{tenant}~{the client's id}`; an id without `~` is the
system's (cron and maintenance runs, jobs of admin keys or with auth off): `tenant_of`.
"""

from arq.constants import (
    abort_jobs_ss,
    default_queue_name,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

ABORTS = abort_jobs_ss
DEFAULT_QUEUE = default_queue_name
RECORD_PREFIX = "jobqueue:record:"
INDEX_PREFIX = "jobqueue:index:"
INDEXED_FUNCTIONS = INDEX_PREFIX + "functions"  # lets the sweep find every index key
EVENTS = "jobqueue:events"
JOB_EVENTS_PREFIX = "jobqueue:events:"
KEPT_EVENT_PREFIX = "e:"  # a record's field holding one of its finished job's events
WORKERS = "jobqueue:workers"
WORKER_PREFIX = "jobqueue:worker:"
LEASES_PREFIX = "jobqueue:leases:"
ALIVE_PREFIX = "jobqueue:alive:"
LEASE_HOLDERS = "jobqueue:lease-holders"
FINISHED_COUNT_PREFIX = "jobqueue:finished:"
METRICS_PREFIX = "jobqueue:metrics:"
METRICS_FINISHED = METRICS_PREFIX + "finished"  # hash: "{function}|{status}" -> jobs
METRICS_RETRIED = METRICS_PREFIX + "retried"  # hash: function -> retries scheduled
METRICS_STALLED = METRICS_PREFIX + "stalled"  # hash: function -> runs that never ended
METRICS_DURATION_FUNCTIONS = METRICS_PREFIX + "duration-functions"  # set of functions timed
COUNT_BUCKET_SECONDS = 10

# Index members sort newest first: 13 digits covers epoch milliseconds until the year 2286.
_MS_CEILING = 9_999_999_999_999


def job(job_id: str) -> str:
    return job_key_prefix + job_id


def result(job_id: str) -> str:
    return result_key_prefix + job_id


def in_progress(job_id: str) -> str:
    return in_progress_key_prefix + job_id


def retry(job_id: str) -> str:
    return retry_key_prefix + job_id


def record(job_id: str) -> str:
    return RECORD_PREFIX + job_id


def job_events(job_id: str) -> str:
    return JOB_EVENTS_PREFIX + job_id


def index(*, status: str, function: str | None = None) -> str:
    """The jobs with stored status `status` (and function `function`), newest first."""
    if function is not None:
        return f"{INDEX_PREFIX}function:{function}:status:{status}"
    return f"{INDEX_PREFIX}status:{status}"


def all_indexes(functions: list[str], statuses: list[str]) -> list[str]:
    """Every index key that jobs of these functions, in these statuses, can be in."""
    found = [index(status=s) for s in statuses]
    for function in functions:
        found += [index(status=s, function=function) for s in statuses]
    return found


def index_member(enqueue_ms: int, job_id: str) -> str:
    return f"{_MS_CEILING - enqueue_ms:013d}:{job_id}"


def is_index_member(member: str) -> bool:
    return len(member) >= 15 and member[:13].isdigit() and member[13] == ":"


def member_job_id(member: str) -> str:
    return member[14:]


def wake_channel(queue_name: str) -> str:
    """Published to when a job is due now, so idle workers start it at once."""
    return f"jobqueue:wake:{queue_name}"


def worker(worker_id: str) -> str:
    return WORKER_PREFIX + worker_id


def leases(worker_id: str) -> str:
    return LEASES_PREFIX + worker_id


def alive(worker_id: str) -> str:
    return ALIVE_PREFIX + worker_id


def finished_count(queue: str, outcome: str, bucket: int, tenant: str | None = None) -> str:
    """Jobs of `queue` (of `tenant`'s only, if given) that ended with `outcome` in 10-second
    bucket `bucket` (epoch s // 10)."""
    if tenant is not None:
        return f"{TENANT_PREFIX}{tenant}:finished:{queue}:{outcome}:{bucket}"
    return f"{FINISHED_COUNT_PREFIX}{queue}:{outcome}:{bucket}"


def metrics_duration(function: str) -> str:
    """Hash: Prometheus histogram bucket (and "sum") -> jobs of `function`."""
    return f"{METRICS_PREFIX}duration:{function}"


def stats_history(queue_name: str, tenant: str | None = None) -> str:
    if tenant is not None:
        return f"{TENANT_PREFIX}{tenant}:stats:{queue_name}"
    return f"jobqueue:stats:{queue_name}"


TENANT_SEPARATOR = "~"
TENANTS = "jobqueue:tenants"
TENANT_PREFIX = "jobqueue:tenant:"


def tenant_of(stored_id: str) -> str | None:
    """The tenant a stored job id belongs to; None for the system tenant."""
    tenant, separator, _ = stored_id.partition(TENANT_SEPARATOR)
    return tenant if separator else None


def tenant_queue(queue_name: str, tenant: str) -> str:
    """A tenant's share of the queue: its jobs waiting or running, scored as in the queue."""
    before, after = tenant_queue_affixes(queue_name)
    return f"{before}{tenant}{after}"


def tenant_queue_affixes(queue_name: str) -> tuple[str, str]:
    """What comes before and after the tenant's name in `tenant_queue` (for a Lua script)."""
    return TENANT_PREFIX, f":queue:{queue_name}"


def session(session_hash: str) -> str:
    return f"jobqueue:session:{session_hash}"


def schedule(name: str) -> str:
    return f"jobqueue:schedule:{name}"


CURSOR_KEY = "jobqueue:cursor-key"
