"""Each route's guard: the scope it needs, checked against the request's API key, and for
writes an `audit.*` log line when the response is sent (`jobqueue.api.middleware`).

`guarded(scope, audit=...)` gives a route decorator's `dependencies` and `openapi_extra`: the
key is checked before the route's own parameters, and OpenAPI shows the bearer scheme (so
Swagger's Authorize button works) and the scope (`x-required-scope`, and in the description).
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobqueue.access.principal import Principal
from jobqueue.access.scopes import Scope
from jobqueue.api.dependencies import services_of
from jobqueue.api.errors import DENIED, Responses

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key's token (`jq_…`): `python -m jobqueue keys create` mints one",
)


def audit_as(request: Request, action: str) -> None:
    """Log this request as the write `action` (`audit.<action>`) once it is answered."""
    request.state.audit = action


def audit_detail(request: Request, **detail: object) -> None:
    """What the write did, for its audit line (e.g. the job id an enqueue got)."""
    request.state.audit_detail = {**getattr(request.state, "audit_detail", {}), **detail}


def authorize(request: Request, scope: Scope, audit: str | None = None) -> Principal:
    """The request's principal, if it holds `scope` (else 401 or 403, raised)."""
    if audit is not None:
        audit_as(request, audit)  # (a refused write is audited too)
    gate = services_of(request).gate
    principal = gate.authenticate(request.headers.get("authorization"))
    request.state.principal = principal  # (a refusal's audit line names the key)
    gate.require(principal, scope)
    return principal


class _Guard:
    """A guarded route's dependency: it puts the bearer scheme in OpenAPI, and checks the key
    where `GuardedRoute` has not already (it checks before the body is read)."""

    def __init__(self, scope: Scope, audit: str | None) -> None:
        self.scope = scope
        self.audit = audit

    async def __call__(
        self,
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if getattr(request.state, "principal", None) is None:
            authorize(request, self.scope, self.audit)


def guarded(
    scope: Scope, *, audit: str | None = None, responses: Responses | None = None
) -> dict[str, Any]:
    """A route decorator's `dependencies`, `openapi_extra` and `responses` (`responses` and
    401, 403) for a route that needs `scope` (and is audited as `audit`, a write)."""
    return {
        "dependencies": [Depends(_Guard(scope, audit))],
        "openapi_extra": {"x-required-scope": scope.value},
        "responses": {**(responses or {}), **DENIED},
    }


class GuardedRoute(APIRoute):
    """A route that checks the key before anything else: FastAPI reads and parses a body
    before it solves dependencies, so a caller without a key (or the scope) would otherwise
    get FastAPI's 400 or 422 for a bad body, not 401 or 403, and its write no audit line."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = [d.dependency for d in self.dependencies if isinstance(d.dependency, _Guard)]
        if not guards:
            return handler
        (guard,) = guards

        async def handle(request: Request) -> Response:
            if getattr(request.state, "principal", None) is None:
                authorize(request, guard.scope, guard.audit)
            return await handler(request)

        return handle


def describe_scopes(openapi: dict[str, Any]) -> None:
    """Say in each guarded operation's description which scope it needs."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            scope = operation.get("x-required-scope")
            if scope is not None:
                needs = f"Needs an API key with the scope `{scope}` (or `admin`)."
                described = operation.get("description")
                operation["description"] = f"{described}\n\n{needs}" if described else needs


def install_scope_descriptions(app: FastAPI) -> None:
    """Add the scopes to the generated document, once (it is cached after the first)."""
    generate = app.openapi
    described: list[bool] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not described:
            describe_scopes(document)
            described.append(True)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
