"""The jobs clients can enqueue. To add one: write it with `@job` and list it here."""

from jobqueue.jobs.echo import echo
from jobqueue.jobs.sleep import sleep
from jobqueue.jobs.webhook import webhook
from jobqueue.registry import JobRegistry

registry = JobRegistry([echo, sleep, webhook])

__all__ = ["registry"]
