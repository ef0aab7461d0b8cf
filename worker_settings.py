"""Composition root of the worker: `arq worker_settings.WorkerSettings`.

Assignments and installs only. The event loop and the swaps are installed here: arq's `Worker`
takes the loop when it is created, right after this module is imported, and looks up what the
swaps replace as it runs. arq reads the class's own attributes (inherited ones are ignored).
"""

import sys

import uvloop
from arq.connections import RedisSettings

from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.catalog import registry
from jobqueue.jobs.schedules import ScheduleInvalid, resolve_schedules
from jobqueue.serialization import deserialize, serialize
from jobqueue.settings import Settings
from jobqueue.store.connection import create_redis
from jobqueue.worker import swaps
from jobqueue.worker.lifecycle import arq_cron_jobs, arq_functions, shutdown, startup
from jobqueue.worker.swaps.wakeup import WakeUp

uvloop.install()
settings = Settings()
try:
    schedules = resolve_schedules(settings, registry)
except ScheduleInvalid as invalid:  # said plainly, without a traceback, and not started
    sys.exit(f"jobqueue worker: {invalid}")
wakeup = WakeUp()
swaps.install(wakeup)


class WorkerSettings:
    functions = arq_functions(registry, settings)
    cron_jobs = arq_cron_jobs(settings, schedules)
    queue_name = settings.queue_name
    redis_pool = create_redis(settings, JobTracker(settings), ride_out_outages=True)
    # (used by `arq --check`)
    redis_settings = RedisSettings.from_dsn(settings.redis_url.get_secret_value())
    job_serializer = serialize
    job_deserializer = deserialize
    ctx = {"settings": settings, "wakeup": wakeup, "schedules": schedules}  # noqa: RUF012 - arq's
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = settings.worker_max_jobs
    poll_delay = settings.worker_poll_delay
    keep_result = settings.result_ttl
    allow_abort_jobs = True
    health_check_interval = settings.worker_health_check_interval
    job_completion_wait = settings.worker_shutdown_grace  # the grace (arq: "after a signal")
