"""`arq bench.arq_tuned.WorkerSettings`: bare arq, tuned like the service, on uvloop."""

import uvloop

from bench.baselines import ArqTuned

uvloop.install()  # before arq creates the worker's loop, as the service's worker_settings does


class WorkerSettings(ArqTuned):
    # arq reads only a class's own attributes, so repeat them here.
    functions = ArqTuned.functions
    redis_settings = ArqTuned.redis_settings
    job_serializer = ArqTuned.job_serializer
    job_deserializer = ArqTuned.job_deserializer
    max_jobs = ArqTuned.max_jobs
    poll_delay = ArqTuned.poll_delay
