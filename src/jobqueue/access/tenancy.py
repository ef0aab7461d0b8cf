"""Which jobs a caller sees, and under which ids.

A tenant's job is stored under `<tenant>~<the id its client chose>` (or `<tenant>~<uuid>`); a
stored id without `~` belongs to the system tenant: cron and maintenance runs, and every job
enqueued by an admin key or with auth off. Neither a client's job id nor a tenant name may hold
`~`, so two tenants' `order-42` are two jobs, and no client can name another tenant's job.

A tenant's key sees its tenant's jobs only, under the ids its clients chose (another tenant's
job is "not found", never "forbidden": no existence oracle). The system's view (admin keys,
auth off) sees every job under its stored id: `billing~order-42`, `cron:sweep:…`.
"""

import uuid
from dataclasses import dataclass, replace

from jobqueue.history.pages import relinked
from jobqueue.history.streams import Event
from jobqueue.history.view import JobView
from jobqueue.store.keys import TENANT_SEPARATOR as SEPARATOR
from jobqueue.store.keys import tenant_of

__all__ = ["SEPARATOR", "SYSTEM", "Tenancy", "tenant_of"]


@dataclass(frozen=True)
class Tenancy:
    tenant: str | None  # None: the system's view, which sees every tenant

    @property
    def sees_all(self) -> bool:
        return self.tenant is None

    def stored_id(self, job_id: str) -> str:
        """The stored id of the caller's `job_id`."""
        return job_id if self.tenant is None else f"{self.tenant}{SEPARATOR}{job_id}"

    def new_stored_id(self) -> str:
        """A stored id for a job enqueued without one (the store would make a bare uuid)."""
        return self.stored_id(uuid.uuid4().hex)

    def sees(self, stored_id: str) -> bool:
        return self.tenant is None or tenant_of(stored_id) == self.tenant

    def shown_id(self, stored_id: str) -> str:
        """The id the caller knows a job it sees by."""
        if self.tenant is None:
            return stored_id
        return stored_id.removeprefix(f"{self.tenant}{SEPARATOR}")

    def show(self, view: JobView) -> JobView:
        """The view with its ids as the caller knows them (a copy; the system's view as is)."""
        if self.tenant is None:
            return view
        shown = view.model_copy()
        shown.job_id = self.shown_id(view.job_id)
        shown.retry_of = self.shown_id(view.retry_of) if view.retry_of else None
        shown.retried_as = self.shown_id(view.retried_as) if view.retried_as else None
        return relinked(shown, view.job_id)  # (a listing's links to elided values)

    def show_event(self, event: Event) -> Event | None:
        """The event as the caller sees it, or None if it is another tenant's."""
        stored = event.data.get("job_id")
        if self.tenant is None:
            return event
        if not isinstance(stored, str) or not self.sees(stored):
            return None
        data = {**event.data, "job_id": self.shown_id(stored)}
        if isinstance(retry_of := data.get("retry_of"), str):
            data["retry_of"] = self.shown_id(retry_of)
        return replace(event, data=data)


SYSTEM = Tenancy(None)
