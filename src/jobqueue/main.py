"""Composition root of the API: `uvicorn jobqueue.main:app`."""

from jobqueue.api.app import create_app
from jobqueue.heap import freeze_startup_objects
from jobqueue.logging import configure_logging
from jobqueue.settings import Settings

settings = Settings()
configure_logging(settings.log_level, settings.log_format)
app = create_app(settings)
freeze_startup_objects()  # last: the app and everything imported live as long as the process
