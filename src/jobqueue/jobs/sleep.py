"""`sleep`: wait a while; abortable at any point, useful for trying aborts and timeouts."""

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import job

MAX_SLEEP_SECONDS = 3600
PROGRESS_EVERY_SECONDS = 1.0


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=MAX_SLEEP_SECONDS)


class SleepResult(BaseModel):
    slept: float


@job(max_tries=3, timeout=MAX_SLEEP_SECONDS + 10)
async def sleep(ctx: JobContext, args: SleepArgs) -> SleepResult:
    """Sleep for `seconds` (at most an hour), reporting progress every second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.seconds
    while (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(PROGRESS_EVERY_SECONDS, remaining))
        if deadline - loop.time() > 0:  # still sleeping: say how far along (the end says itself)
            slept = args.seconds - (deadline - loop.time())
            message = f"slept {slept:.1f} of {args.seconds:g}s"
            await ctx.progress(round(slept, 3), args.seconds, message)
    return SleepResult(slept=args.seconds)
