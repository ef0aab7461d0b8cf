"""The worker's wrapper around a job, called with a fabricated arq ctx."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from arq import Retry
from pydantic import BaseModel, SecretStr

from jobqueue.access.secrets import Cipher, SecretUnreadable, parse_keys
from jobqueue.history.tracker import JobTracker
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import JobDefinition, job
from jobqueue.jobs.retry import RetryableError
from jobqueue.settings import Settings
from jobqueue.store.arq_format import REQUEST_ID_ARG
from jobqueue.store.client import TrackedRedis
from jobqueue.worker import execution
from jobqueue.worker.execution import InvalidJobArgs, JobStalled, as_arq_function, execute
from jobqueue.worker.heartbeat import WorkerStats
from jobqueue.worker.leases import Leases
from tests.helpers.secret_keys import NEXT_SECRETS_KEY, ROTATED, SECRETS_KEY


class Args(BaseModel):
    n: int = 0


class Out(BaseModel):
    n: int


class Flaky(RetryableError):
    pass


@job(max_tries=3, timeout=0.05)
async def flaky(ctx: JobContext, args: Args) -> Out:
    raise Flaky("try again")


@job(timeout=0.05)
async def slow(ctx: JobContext, args: Args) -> Out:
    await asyncio.sleep(1)
    return Out(n=args.n)


@job(timeout=1)
async def doubler(ctx: JobContext, args: Args) -> Out:
    return Out(n=args.n * 2)


@pytest.fixture
async def ctx(redis: TrackedRedis, tracker: JobTracker) -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        yield {
            "tracker": tracker,
            "job_id": "j1",
            "job_try": 1,
            "settings": Settings(retry_base_delay=2, retry_max_delay=8),
            "redis": redis,
            "http": http,
            "stats": WorkerStats(),
        }


async def run(definition: JobDefinition, ctx: dict[str, Any], **kwargs: Any) -> Any:
    return await execute(definition, ctx, kwargs)


async def test_result_is_returned_as_json_data(ctx: dict[str, Any]) -> None:
    assert await run(doubler, ctx, n=21) == {"n": 42}


async def test_request_id_is_not_passed_to_the_job(ctx: dict[str, Any]) -> None:
    assert await run(doubler, ctx, n=1, **{REQUEST_ID_ARG: "req-1"}) == {"n": 2}


@job(timeout=1)
async def log_context(ctx: JobContext, args: Args) -> Out:
    seen.append(structlog.contextvars.get_contextvars())
    return Out(n=args.n)


seen: list[dict[str, Any]] = []


async def test_the_job_runs_bound_to_its_id_function_try_and_enqueuing_request(
    ctx: dict[str, Any],
) -> None:
    seen.clear()
    ctx["job_try"] = 2
    await run(log_context, ctx, n=1, **{REQUEST_ID_ARG: "req-9"})
    assert seen == [
        {"job_id": "j1", "function": "log_context", "job_try": 2, "request_id": "req-9"}
    ]


async def test_invalid_stored_args_fail_without_retry(ctx: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobArgs, match="n: Input should be a valid integer"):
        await run(doubler, ctx, n="many")


async def test_retryable_error_becomes_arq_retry_with_backoff(ctx: dict[str, Any]) -> None:
    ctx["job_try"] = 2
    with pytest.raises(Retry) as caught:
        await run(flaky, ctx)
    assert caught.value.defer_score is not None
    assert 2000 <= caught.value.defer_score <= 4000  # second failure: 2 s base * 2, jittered


async def test_last_try_raises_the_original_error(ctx: dict[str, Any]) -> None:
    ctx["job_try"] = 3
    with pytest.raises(Flaky, match="try again"):
        await run(flaky, ctx)


def test_arq_enforces_the_declared_timeout() -> None:
    assert as_arq_function(slow, Settings()).timeout_s == slow.timeout


async def test_a_job_past_its_stall_limit_fails_without_running(ctx: dict[str, Any]) -> None:
    ctx["settings"] = Settings(worker_stall_limit=2)
    leases = ctx["leases"] = Leases("w1", Settings(worker_lease=15))
    leases.hold("j1", stalls=2)
    assert await run(doubler, ctx, n=1) == {"n": 2}  # at the limit: it runs
    leases.hold("j1", stalls=3)
    with pytest.raises(JobStalled, match=r"3 times \(JOBQUEUE_WORKER_STALL_LIMIT is 2\)"):
        await run(doubler, ctx, n=1)


class SecretArgs(BaseModel):
    token: SecretStr


class SecretOut(BaseModel):
    length: int


received: list[str] = []


@job(max_tries=3, timeout=1)
async def uses_a_secret(ctx: JobContext, args: SecretArgs) -> SecretOut:
    received.append(args.token.get_secret_value())
    return SecretOut(length=len(args.token.get_secret_value()))


SECRET = "tok-3e9b1d"  # noqa: S105 - planted, to be looked for


def sealed(value: str, keys: str = SECRETS_KEY) -> str:
    return Cipher(parse_keys(keys)).seal(value)


async def test_the_job_gets_its_secret_unsealed(ctx: dict[str, Any]) -> None:
    received.clear()
    ctx["settings"] = Settings(secrets_key=SECRETS_KEY)
    assert await run(uses_a_secret, ctx, token=sealed(SECRET)) == {"length": len(SECRET)}
    assert received == [SECRET]


async def test_a_worker_with_the_rotated_keys_unseals_what_the_old_key_sealed(
    ctx: dict[str, Any],
) -> None:
    received.clear()
    ctx["settings"] = Settings(secrets_key=ROTATED)
    await run(uses_a_secret, ctx, token=sealed(SECRET, SECRETS_KEY))
    assert received == [SECRET]


async def test_a_secret_no_key_decrypts_fails_the_job_at_once_without_the_value(
    ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    received.clear()
    ctx["settings"] = Settings(secrets_key=NEXT_SECRETS_KEY)
    token = sealed(SECRET, SECRETS_KEY)
    # (the module's own logger, captured: structlog caches it once used, after which
    # `capture_logs` no longer reaches it)
    capture = structlog.testing.LogCapture()
    monkeypatch.setattr(execution, "log", structlog.wrap_logger(None, processors=[capture]))
    logs = capture.entries
    with pytest.raises(SecretUnreadable) as caught:
        await run(uses_a_secret, ctx, token=token)
    assert not isinstance(caught.value, RetryableError | Retry)  # arq fails it: no try again
    assert str(caught.value).startswith("token: no key in JOBQUEUE_SECRETS_KEY decrypts")
    (line,) = [line for line in logs if line["event"] == "job.failed"]
    assert line["error_type"] == "SecretUnreadable"
    assert SECRET not in str(logs)
    assert token not in str(logs)
    assert received == []
