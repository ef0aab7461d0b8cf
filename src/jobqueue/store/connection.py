"""The Redis pool each process uses, with the JSON codec and its outage behaviour.

The API must answer 503 within a few seconds when Redis is down, so it retries a failed command
once (and a write refused because Redis is full, not at all). The worker instead rides out an
outage or a full Redis: arq's poll loop dies on the first Redis error, so its pool retries (with
capped backoff) until Redis is back or has room, and the worker carries on unrestarted: a job's
end refused while Redis is full is written once memory is back.
"""

from typing import Any

import structlog
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis
from jobqueue.store.outages import FULL_ERRORS, OUTAGE_ERRORS
from jobqueue.store.recording import Recorder
from jobqueue.store.wire import CancellableWrites, HiredisPacking, ReadinessCheckedParser

log = structlog.get_logger("jobqueue.redis")


class _LoggedBackoff(ExponentialBackoff):
    """redis-py retries silently; say so (on the first failure, then every tenth)."""

    def compute(self, failures: int) -> float:
        delay: float = super().compute(failures)
        if failures == 1 or failures % 10 == 0:
            log.warning("redis.retrying", attempt=failures, retry_in_s=round(delay, 3))
        return delay


def create_pool(settings: Settings, *, ride_out_outages: bool = False) -> ConnectionPool:
    """A lazily-connecting pool: nothing touches the network until the first command.

    The API's is bounded (`redis_max_connections`; a request waits for a free connection up to
    `redis_timeout`) and connects outside its lock: redis-py's unbounded pool connects under a
    pool-wide lock, so while Redis was down concurrent requests queued behind each other's
    connect retries. The worker's makes as many connections as its jobs need."""
    retry = (
        Retry(_LoggedBackoff(cap=5.0, base=0.1), retries=-1)
        if ride_out_outages
        else Retry(ExponentialBackoff(cap=0.5, base=0.1), retries=1)
    )
    options: dict[str, Any] = {}
    if not ride_out_outages:
        options = {"max_connections": settings.redis_max_connections}
        options["timeout"] = settings.redis_timeout  # to wait for a free connection
    url = settings.redis_url.get_secret_value()
    if url.startswith("rediss://"):  # redis-py 5 checks no host name unless told (the URL can)
        options["ssl_check_hostname"] = True
    pool_class = ConnectionPool if ride_out_outages else BlockingConnectionPool
    pool = pool_class.from_url(
        url,
        **options,
        socket_connect_timeout=settings.redis_timeout,
        # Nothing blocks longer than this: arq sends no blocking commands, and our stream
        # reads block for at most a second. A hung socket becomes a retry.
        socket_timeout=settings.redis_timeout,
        retry=retry,
        retry_on_error=[*OUTAGE_ERRORS, *(FULL_ERRORS if ride_out_outages else ())],
        parser_class=ReadinessCheckedParser,
    )
    base = pool.connection_class  # plain, TLS or Unix socket, as the URL says
    pool.connection_class = type(base.__name__, (HiredisPacking, CancellableWrites, base), {})
    return pool


def create_redis(
    settings: Settings, recorder: Recorder, *, ride_out_outages: bool = False
) -> TrackedRedis:
    """The process's one Redis client, recording history through `recorder`."""
    pool = create_pool(settings, ride_out_outages=ride_out_outages)
    return TrackedRedis(pool, settings, recorder)


async def ping(redis: Redis) -> None:
    """Returns once Redis answers (raises redis-py's error if it does not)."""
    await redis.ping()
