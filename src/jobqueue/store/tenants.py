"""Whose a job is: the tenant encoded in its arq job id, `<tenant>~<client job id>`.

A job id without `~` is the system tenant's: cron and maintenance jobs, and every job while auth
is off. `~` is in no tenant name and no client job id, so the first `~` ends the tenant.
"""

import re
import uuid

SEPARATOR = "~"
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def tenant_of(job_id: str) -> str | None:
    """The tenant a job id belongs to; None for the system tenant (no `~`).

    Whatever precedes the first `~` is the tenant, a valid name or not: an id the API would not
    have made (planted in Redis) still belongs to some tenant, never to the system tenant, so
    the worker's per-tenant cap still holds it."""
    tenant, separator, _ = job_id.partition(SEPARATOR)
    return tenant if separator else None


def is_tenant_name(name: str) -> bool:
    return TENANT_NAME.fullmatch(name) is not None


def tenant_job_id(tenant: str, client_job_id: str) -> str:
    """The arq job id of a tenant's job; `ValueError` for a name or id that could not be read
    back as the same pair."""
    if not is_tenant_name(tenant):
        raise ValueError(f"not a tenant name: {tenant!r}")
    if SEPARATOR in client_job_id:
        raise ValueError(f"a client job id holds no {SEPARATOR!r}: {client_job_id!r}")
    return f"{tenant}{SEPARATOR}{client_job_id}"


def new_job_id_like(job_id: str) -> str | None:
    """A new job id of the tenant `job_id` belongs to, for a re-run (which must stay under its
    tenant's cap); None for a system tenant's job (the enqueue then picks its id, as ever)."""
    tenant = tenant_of(job_id)
    return None if tenant is None else f"{tenant}{SEPARATOR}{uuid.uuid4().hex}"
