"""What the service is measured against, on the same Redis in the same run.

- bare arq `Worker`s: arq's defaults, and arq tuned like the service (same max_jobs, poll delay,
  JSON codec); a no-op job and a 10 ms sleep job;
- SAQ, a tuned single-process asyncio peer, as a reference column;
- bare FastAPI apps: one calling arq's `enqueue_job`, one returning a constant (the HTTP ceiling).

Worker settings come from `BENCH_REDIS_URL` (each runs as its own process).
"""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI, Request

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TUNED_MAX_JOBS = int(os.environ.get("BENCH_TUNED_MAX_JOBS", "100"))
TUNED_POLL_DELAY = float(os.environ.get("BENCH_TUNED_POLL_DELAY", "0.05"))


def dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def loads(data: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(data)
    return loaded


async def noop(ctx: dict[str, Any], message: str = "") -> dict[str, str]:
    return {"message": message}


async def sleep10(ctx: dict[str, Any], seconds: float = 0.01) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


class ArqDefaults:
    """arq as it comes (JSON instead of pickle, so nothing here unpickles)."""

    functions = [noop, sleep10]  # noqa: RUF012 - arq reads class attributes
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    job_serializer = dumps
    job_deserializer = loads


class ArqTuned:
    """arq with the service's tuning: many jobs at once, short polls, and uvloop (installed
    by `bench.arq_tuned`, which is what the tuned worker runs)."""

    functions = [noop, sleep10]  # noqa: RUF012
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    job_serializer = dumps
    job_deserializer = loads
    max_jobs = TUNED_MAX_JOBS
    poll_delay = TUNED_POLL_DELAY


# --- SAQ (run with `saq bench.baselines.saq_settings`)


async def saq_noop(ctx: dict[str, Any], *, message: str = "") -> dict[str, str]:
    return {"message": message}


async def saq_sleep10(ctx: dict[str, Any], *, seconds: float = 0.01) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def _saq_settings() -> dict[str, Any]:
    from saq import Queue

    return {
        "queue": Queue.from_url(REDIS_URL),
        "functions": [saq_noop, saq_sleep10],
        "concurrency": TUNED_MAX_JOBS,
    }


saq_settings = _saq_settings() if os.environ.get("BENCH_SAQ") else {}


# --- HTTP baselines (run with uvicorn bench.baselines:enqueue_app / constant_app)


@asynccontextmanager
async def _pool(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = await create_pool(
        RedisSettings.from_dsn(REDIS_URL), job_serializer=dumps, job_deserializer=loads
    )
    yield
    await app.state.redis.aclose()


enqueue_app = FastAPI(lifespan=_pool)
constant_app = FastAPI()


@enqueue_app.post("/v1/jobs", status_code=202)
async def plain_enqueue(request: Request) -> dict[str, str]:
    body = await request.json()
    redis: ArqRedis = request.app.state.redis
    job = await redis.enqueue_job(body["function"], **body["args"])
    assert job is not None
    return {"job_id": job.job_id}


@constant_app.post("/v1/jobs", status_code=202)
async def constant() -> dict[str, str]:
    return {"job_id": "constant"}
