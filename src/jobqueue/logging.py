"""structlog configuration: the single place that decides how every log line looks.

Our own events take structlog's fast path (no stdlib `logging` hop; JSON via orjson), which
matters on the per-job and per-request hot paths. Lines from stdlib loggers (uvicorn, arq) go
through a `ProcessorFormatter` with the same processors and renderer, so every line has one
format: JSON in production (no TTY), colourful console output in a terminal.
"""

import logging
import sys
from typing import Literal

import orjson
import structlog
from structlog.typing import Processor

# Loggers that install their own handlers; we route them through ours instead.
_FOREIGN_LOGGERS = ("arq", "uvicorn", "uvicorn.error")
# These repeat what our own events say (job.started/job.succeeded…).
# (httpx logs each request's URL at INFO: a webhook's URL is a job's arg, often a secret one)
_QUIETED_LOGGERS = ("arq.worker", "httpx")
# Tracebacks keep file, line and function, never frame locals: they hold secrets (the Redis URL
# in `Settings`, a webhook's headers in a job's args).
_TRACEBACKS: Processor = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)
# uvicorn's access lines repeat our http.request line. With no handler anywhere up its chain,
# uvicorn skips building them at all (as with --no-access-log), which a level would not.
_DETACHED_LOGGERS = ("uvicorn.access",)


def configure_logging(
    level: str = "INFO", log_format: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Configure structlog and the stdlib root logger. Safe to call more than once."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer, tracebacks = _configure_structlog(level, shared, use_json=use_json)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tracebacks,
            renderer,
        ],
    )
    _route_stdlib_logging(level, formatter)


def _configure_structlog(
    level: str, shared: list[Processor], *, use_json: bool
) -> tuple[Processor, list[Processor]]:
    """Our own events' fast path; returns the renderer (and traceback step) for stdlib lines."""
    if use_json:
        structlog.configure(
            processors=[
                *shared,
                _TRACEBACKS,
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer),
            wrapper_class=structlog.make_filtering_bound_logger(level),
            cache_logger_on_first_use=True,
        )
        return structlog.processors.JSONRenderer(), [_TRACEBACKS]
    renderer = structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
    )
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    return renderer, []  # the console renderer prints tracebacks itself


def _route_stdlib_logging(level: str, formatter: logging.Formatter) -> None:
    """uvicorn's and arq's lines through our formatter: one handler, on the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
        foreign.setLevel(level)
    for name in _DETACHED_LOGGERS:
        detached = logging.getLogger(name)
        detached.handlers.clear()
        detached.propagate = False
    for name in _QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
