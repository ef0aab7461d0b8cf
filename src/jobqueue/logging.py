"""structlog configuration: the single place that decides how every log line looks.

structlog and stdlib loggers (uvicorn, arq) share one `ProcessorFormatter`, so all lines are JSON
in production (no TTY) and colourful console output in a terminal.
"""

import logging
import sys
from typing import Literal

import structlog
from structlog.typing import Processor

# Loggers that install their own handlers; we route them through ours instead.
_FOREIGN_LOGGERS = ("arq", "uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    level: str = "INFO", log_format: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Configure structlog and the stdlib root logger. Safe to call more than once."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The console renderer prints tracebacks itself; JSON needs them as a string.
            *([structlog.processors.dict_tracebacks] if use_json else []),
            renderer,
        ],
    )
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
    # uvicorn's access log duplicates our `http.request` line.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
