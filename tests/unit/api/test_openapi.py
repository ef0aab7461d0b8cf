"""Every status a route can return is declared in OpenAPI, by rule over the real routes."""

from typing import Any

import httpx
from fastapi.routing import APIRoute

from jobqueue.access.scopes import Scope
from jobqueue.api.routes import enqueue, events, functions, health, jobs, operations

# Routes that touch no Redis (everything else answers 503 while Redis is unreachable).
WITHOUT_REDIS = {"/healthz", "/v1/functions"}
ERROR_BODIES = {"#/components/schemas/ErrorBody", "#/components/schemas/HTTPValidationError"}


ROUTERS = (enqueue, jobs, events, functions, operations, health)


def routes() -> list[tuple[str, str, APIRoute]]:
    """Every route of the routers the app includes (the test checks OpenAPI has no other)."""
    return [
        (method.lower(), route.path, route)
        for module in ROUTERS
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    ]


def expected(route: APIRoute) -> set[int]:
    """What a route can answer besides its successes."""
    dependant = route.dependant
    # the body limit (a middleware) and the server's deadlines, header limit and connection
    # cap (jobqueue.serving.slow_clients): any route, any method
    codes = {408, 413, 431, 503}
    if dependant.path_params or dependant.query_params or route.body_field is not None:
        codes.add(422)
    if route.body_field is not None:
        codes.add(400)  # a body FastAPI cannot parse (not UTF-8, nested past the parser)
    if dependant.path_params:
        codes.add(404)
    return codes


def redis_unavailable_declared(route: APIRoute, responses: dict[str, Any]) -> bool:
    """A route that touches Redis says its 503 may mean Redis is unreachable too."""
    described = responses["503"]["description"]
    return ("Redis" in described) == (route.path not in WITHOUT_REDIS)


async def test_openapi_declares_every_status(client: httpx.AsyncClient) -> None:
    paths: dict[str, Any] = (await client.get("/openapi.json")).json()["paths"]
    assert {(m, p) for m, p, _ in routes()} == {
        (m, p) for p, operations in paths.items() for m in operations
    }
    for method, path, route in routes():
        responses = paths[path][method]["responses"]
        declared = {int(code) for code in responses}
        missing = expected(route) - declared
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
        assert redis_unavailable_declared(route, responses), (method, path)
        for code in declared & {400, 404, 408, 409, 413, 422, 431, 503}:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema["$ref"] in ERROR_BODIES, (method, path, code)


OPEN = {("get", "/healthz"), ("get", "/readyz")}


async def test_openapi_declares_the_bearer_scheme_and_each_routes_scope(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key's token (`jq_…`): `python -m jobqueue keys create` mints one",
    }
    scopes = {}
    for path, by_method in document["paths"].items():
        for method, operation in by_method.items():
            if (method, path) in OPEN:
                assert "security" not in operation
                continue
            assert operation["security"] == [{"HTTPBearer": []}], (method, path)
            scope = operation["x-required-scope"]
            assert f"scope `{scope}`" in operation["description"]
            scopes[method, path] = scope
    assert scopes[("post", "/v1/jobs")] == "jobs:write"
    assert scopes[("post", "/v1/jobs/retry")] == "ops:write"
    assert scopes[("get", "/metrics")] == "metrics:read"
    assert scopes[("post", "/v1/cron/{name}/pause")] == "admin"  # (for every tenant at once)
    assert set(scopes.values()) == {s.value for s in Scope}
