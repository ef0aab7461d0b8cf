"""`arq bench.peers.arq_defaults.WorkerSettings`: arq exactly as it comes.

Ten jobs at a time, a poll every 0.5 s, pickle as the codec (our own jobs, on the harness's
private Redis), two log lines per job, asyncio's own event loop.
"""

import asyncio

from arq.connections import RedisSettings

from bench.peers import REDIS_URL, enqueue_args
from bench.peers.arq_jobs import enqueue, noop, sleep10


class WorkerSettings:
    functions = [noop, sleep10]  # noqa: RUF012 - arq reads class attributes
    redis_settings = RedisSettings.from_dsn(REDIS_URL)


if __name__ == "__main__":
    asyncio.run(enqueue(*enqueue_args()))
