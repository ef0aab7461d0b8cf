"""Mapping errors to JSON responses, once. Bodies keep FastAPI's `detail` field."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from jobqueue.api.schemas import ErrorBody
from jobqueue.errors import JobQueueError, QueueUnavailable

log = structlog.get_logger("jobqueue.api")

RETRY_AFTER_SECONDS = "5"


Responses = dict[int | str, dict[str, Any]]


def _description(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


# For OpenAPI: the error responses routes can return.
NOT_FOUND: Responses = {404: _description("No such job, or its result has expired")}
CONFLICT: Responses = {409: _description("Conflicts with the job's current state")}
TOO_LARGE: Responses = {413: _description("The request body is over the configured limit")}
UNAVAILABLE: Responses = {503: _description("Redis is unreachable; retry after `Retry-After`")}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobQueueError)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if exc.status_code == 503 else None
    if isinstance(exc, QueueUnavailable):
        log.warning("redis.unavailable", error=exc.detail)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug: the traceback goes to the log (bound to the request id), never to the client.
    log.exception("http.unhandled_error")
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, with exception objects in `ctx` (e.g. from a model validator)
    turned into their messages instead of `{}`."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {**error, "ctx": {k: str(v) for k, v in error["ctx"].items()}} if "ctx" in error else error
        for error in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(JobQueueError, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
