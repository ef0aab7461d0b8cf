"""Composition root of the API: `python -m jobqueue serve`, which is
`uvicorn jobqueue.main:app --http jobqueue.main:http_protocol`."""

import sys

from jobqueue.access.gate import AccessMisconfigured
from jobqueue.api.app import create_app
from jobqueue.heap import freeze_startup_objects
from jobqueue.jobs.schedules import ScheduleInvalid
from jobqueue.logging import configure_logging
from jobqueue.serving.slow_clients import ClientLimits, guarded_protocol
from jobqueue.settings import Settings

settings = Settings()
configure_logging(settings.log_level, settings.log_format)
try:
    app = create_app(settings)
except (AccessMisconfigured, ScheduleInvalid) as refused:  # said plainly, not started
    sys.exit(f"jobqueue: {refused}")
http_protocol = guarded_protocol(
    ClientLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        send_timeout=settings.send_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_connections=settings.max_connections,
    )
)
freeze_startup_objects()  # last: the app and everything imported live as long as the process
