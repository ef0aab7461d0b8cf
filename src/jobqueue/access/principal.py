"""Who is asking: the key a request authenticated with (or nobody in particular, auth off)."""

from dataclasses import dataclass

from jobqueue.access.keyring import ApiKey
from jobqueue.access.scopes import Scope, grants
from jobqueue.access.tenancy import SYSTEM, Tenancy


@dataclass(frozen=True)
class Principal:
    name: str  # the key's name: in audit lines and job views (never the token)
    tenant: str | None  # None: the system tenant (auth off)
    scopes: frozenset[Scope]
    rate_per_second: float | None = None

    @classmethod
    def of(cls, key: ApiKey) -> "Principal":
        return cls(key.name, key.tenant_name, key.scopes, key.rate_per_second)

    @property
    def is_admin(self) -> bool:
        return Scope.admin in self.scopes

    def may(self, scope: Scope) -> bool:
        return grants(self.scopes, scope)

    @property
    def tenancy(self) -> Tenancy:
        """Which jobs it sees: its tenant's, or every one (an admin, or auth off)."""
        return SYSTEM if self.is_admin or self.tenant is None else Tenancy(self.tenant)


# With JOBQUEUE_AUTH=off every request is this one: an admin of the system tenant.
ANONYMOUS = Principal("anonymous", None, frozenset({Scope.admin}))
