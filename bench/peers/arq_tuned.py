"""`arq --custom-log-dict bench.peers.arq_tuned.LOG_CONFIG bench.peers.arq_tuned.WorkerSettings`:
arq tuned as its docs allow, the way the service tunes it.

uvloop; 100 jobs at a time; a poll every 10 ms; orjson as the job codec (arq's documented
`job_serializer`/`job_deserializer`); no per-job log lines (arq logs two INFO lines per job
through the `arq.worker` logger: the log dict raises `arq` to WARNING, and `log_results` is
off).
"""

from typing import Any

import uvloop
from arq.connections import RedisSettings
from arq.logs import default_log_config

from bench.peers import REDIS_URL, enqueue_args
from bench.peers.arq_jobs import enqueue, noop, sleep10
from bench.peers.codec import dumps, loads

uvloop.install()  # before arq makes the worker's loop, as the service's worker_settings does

LOG_CONFIG: dict[str, Any] = default_log_config(verbose=False)
LOG_CONFIG["loggers"]["arq"]["level"] = "WARNING"


class WorkerSettings:
    functions = [noop, sleep10]  # noqa: RUF012 - arq reads class attributes
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    job_serializer = dumps
    job_deserializer = loads
    max_jobs = 100
    poll_delay = 0.01
    log_results = False


if __name__ == "__main__":
    uvloop.run(enqueue(*enqueue_args(), job_serializer=dumps, job_deserializer=loads))
