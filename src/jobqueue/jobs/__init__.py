"""What runs: job declarations, the job author's context, retry policy, the built-in jobs and
the maintenance jobs. Imported by both processes.

A job author needs only this package's three names (see the README's "Adding a job"):

    from jobqueue.jobs import JobContext, RetryableError, Schedule, job

and lists the new job in `jobqueue.jobs.catalog`.
"""

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import job
from jobqueue.jobs.retry import RetryableError
from jobqueue.jobs.schedule import Schedule

__all__ = ["JobContext", "RetryableError", "Schedule", "job"]
