"""The scopes a key may carry; `admin` holds every one, across tenants."""

from enum import StrEnum


class Scope(StrEnum):
    jobs_read = "jobs:read"  # get, wait, events, list, functions
    jobs_write = "jobs:write"  # enqueue, batch, abort, retry
    ops_read = "ops:read"  # queues, workers, the cron list
    ops_write = "ops:write"  # cron run-now, bulk retry
    metrics_read = "metrics:read"  # /metrics
    admin = "admin"  # all of them, across tenants


def grants(held: frozenset[Scope], needed: Scope) -> bool:
    return needed in held or Scope.admin in held
