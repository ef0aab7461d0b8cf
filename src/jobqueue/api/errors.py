"""Mapping errors to JSON responses, once. Bodies keep FastAPI's `detail` field."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from jobqueue.api.disconnects import CLIENT_CLOSED_REQUEST
from jobqueue.api.schemas import ErrorBody
from jobqueue.api.validation_details import safe_details
from jobqueue.errors import JobQueueError, QueueUnavailable

log = structlog.get_logger("jobqueue.api")

RETRY_AFTER_SECONDS = "5"


Responses = dict[int | str, dict[str, Any]]


def _description(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


# For OpenAPI: the error responses routes can return.
NOT_FOUND: Responses = {404: _description("No such job, or its result has expired")}
CONFLICT: Responses = {409: _description("Conflicts with the job's current state")}
# FastAPI's answer to a body it cannot parse before validation: not UTF-8, or JSON nested past
# Python's parser's recursion limit (about 1,000 levels).
UNPARSABLE: Responses = {400: _description("The body could not be parsed (not UTF-8, or too deep)")}
TOO_LARGE: Responses = {413: _description("The request body is over the configured limit")}
UNAVAILABLE: Responses = {
    503: _description(
        "Redis is unreachable, or the server is at its connection limit; retry after `Retry-After`"
    )
}
DENIED: Responses = {
    401: _description("No API key, or not a valid one (`WWW-Authenticate: Bearer`)"),
    403: _description("The API key lacks the scope this route needs (the detail names it)"),
}
RATE_LIMITED: Responses = {
    429: _description("The API key is over its enqueue rate; retry after `Retry-After`")
}
# What the server answers to any request, whatever its route (jobqueue.serving.slow_clients,
# under `python -m jobqueue serve`), and the body limit (a middleware).
EVERY_ROUTE: Responses = {
    408: _description("The request's headers or body did not arrive within the deadline"),
    413: TOO_LARGE[413],
    431: _description("The request's line and headers are over the configured limit"),
    503: _description("The server is at its connection limit; retry after `Retry-After`"),
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobQueueError)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if exc.status_code == 503 else exc.headers
    if isinstance(exc, QueueUnavailable):
        log.warning("redis.unavailable", error=exc.detail)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its body arrived (or the body deadline closed it): nothing to
    answer and no bug to report. (FastAPI's generic routes turn this into its 400 themselves.)"""
    log.info("http.client_disconnected")
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug: the traceback goes to the log (bound to the request id), never to the client.
    log.exception("http.unhandled_error")
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, made only of values JSON can carry (see `validation_details`): exception
    objects in `ctx` (e.g. from a model validator) become their messages instead of `{}`, and
    an input of NaN or a lone surrogate no longer makes the error handler itself fail."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": safe_details(exc.errors())}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(JobQueueError, _domain_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected_error)
