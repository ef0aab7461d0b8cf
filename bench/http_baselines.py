"""The HTTP servers `POST /v1/jobs` is measured against (run with `uvicorn
bench.http_baselines:enqueue_app` / `constant_app`, `--no-access-log`):

- a plain FastAPI endpoint calling arq's `enqueue_job` (orjson codec, one pool), what the
  service would be without its validation, history and idempotency;
- a constant endpoint: the HTTP ceiling of one uvicorn process on this machine.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI, Request

from bench.peers import REDIS_URL
from bench.peers.codec import dumps, loads


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
