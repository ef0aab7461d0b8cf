"""The jobs clients can enqueue. To add one: write it with `@job` and list it here."""

from jobqueue.jobs.declaration import JobRegistry
from jobqueue.jobs.echo import echo
from jobqueue.jobs.sleep import sleep
from jobqueue.jobs.webhook import webhook

registry = JobRegistry([echo, sleep, webhook])
