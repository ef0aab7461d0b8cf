"""`echo`: the smallest useful job, for trying the service out."""

from pydantic import BaseModel, ConfigDict

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import job


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str


class EchoResult(BaseModel):
    message: str


@job(max_tries=3, timeout=10)
async def echo(ctx: JobContext, args: EchoArgs) -> EchoResult:
    """Return the message unchanged."""
    return EchoResult(message=args.message)
