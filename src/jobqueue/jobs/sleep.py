"""`sleep`: wait a while; abortable at any point, useful for trying aborts and timeouts."""

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from jobqueue.registry import JobContext, job

MAX_SLEEP_SECONDS = 3600


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=MAX_SLEEP_SECONDS)


class SleepResult(BaseModel):
    slept: float


@job(max_tries=3, timeout=MAX_SLEEP_SECONDS + 10)
async def sleep(ctx: JobContext, args: SleepArgs) -> SleepResult:
    """Sleep for `seconds` (at most an hour), then report how long."""
    await asyncio.sleep(args.seconds)
    return SleepResult(slept=args.seconds)
