"""The enqueue body in OpenAPI: a union on `function` built from the registry, each variant
accepted by the real (hand-parsing) route, so generated clients build valid requests."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from asgi_lifespan import LifespanManager
from pydantic import BaseModel

from jobqueue.api.app import create_app
from jobqueue.api.enqueue_schema import COMPONENTS, UNION_NAME, variant_name
from jobqueue.api.schemas import EnqueueRequest
from jobqueue.jobs.catalog import registry
from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import JobRegistry, job
from jobqueue.settings import Settings
from jobqueue.store.client import TrackedRedis

# One valid args object per registered job (the test fails when a job is added without one).
VALID_ARGS: dict[str, dict[str, Any]] = {
    "echo": {"message": "hello"},
    "sleep": {"seconds": 0.01},
    "webhook": {"url": "http://127.0.0.1/hook", "payload": {"order": 42}},
}


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][ref.removeprefix(COMPONENTS)]
    return schema


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """`schema` with the document's components in reach of its `$ref`s."""
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


async def test_enqueue_schema_is_a_union_of_registered_functions(
    client: httpx.AsyncClient,
) -> None:
    document = await openapi(client)
    body = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": COMPONENTS + UNION_NAME}
    union = resolve(document, UNION_NAME)
    assert union["discriminator"]["propertyName"] == "function"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == set(registry.names())
    assert [v["$ref"] for v in union["oneOf"]] == list(mapping.values())
    for name, ref in mapping.items():
        assert resolve(document, ref)["properties"]["function"]["const"] == name


async def test_each_variant_carries_its_functions_args_schema_and_the_common_fields(
    client: httpx.AsyncClient,
) -> None:
    document = await openapi(client)
    common = EnqueueRequest.model_json_schema(ref_template=COMPONENTS + "{model}")["properties"]
    for definition in registry:
        variant = resolve(document, COMPONENTS + variant_name(definition.name))
        args = dict(variant["properties"]["args"])
        assert args.pop("description") == f"the arguments of `{definition.name}`"
        assert args == definition.args_model.model_json_schema(ref_template=COMPONENTS + "{model}")
        assert set(variant["properties"]) == set(common)
        for field in ("job_id", "defer_by", "defer_until", "expires"):
            assert variant["properties"][field] == common[field]
        assert variant["additionalProperties"] is False


async def test_every_variant_is_accepted_by_the_real_route(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    assert set(VALID_ARGS) == set(registry.names())
    for name, args in VALID_ARGS.items():
        variant = resolve(document, COMPONENTS + variant_name(name))
        for body in (
            {"function": name, "args": args},
            {"function": name, "args": args, "job_id": f"v-{name}", "defer_by": 5, "expires": 60},
        ):
            assert validator(document, variant).is_valid(body), body
            assert validator(document, resolve(document, UNION_NAME)).is_valid(body)
            response = await client.post("/v1/jobs", json=body)
            assert response.status_code == 202, response.text


async def test_what_a_variant_refuses_the_route_refuses(client: httpx.AsyncClient) -> None:
    """Bodies outside the union (unknown function, both deferrals, unknown field) are 422s."""
    union = validator(document := await openapi(client), resolve(document, UNION_NAME))
    echo = {"function": "echo", "args": VALID_ARGS["echo"]}
    for body in (
        {"function": "nope"},
        {**echo, "defer_by": 1, "defer_until": "2001-01-01T00:00:00Z"},
        {**echo, "bogus": 1},
    ):
        assert not union.is_valid(body)
        assert (await client.post("/v1/jobs", json=body)).status_code == 422


async def test_unknown_function_keeps_its_422(client: httpx.AsyncClient) -> None:
    detail = (await client.post("/v1/jobs", json={"function": "nope"})).json()["detail"]
    assert detail[0]["type"] == "unknown_function"
    assert detail[0]["loc"] == ["body", "function"]
    assert "registered: echo, sleep, webhook" in detail[0]["msg"]


async def test_batch_items_are_the_same_union(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    jobs = resolve(document, COMPONENTS + "BatchEnqueueRequest")["properties"]["jobs"]
    assert jobs["items"] == {"$ref": COMPONENTS + UNION_NAME}


class CountArgs(BaseModel):
    upto: int


@job(timeout=1)
async def count(ctx: JobContext, args: CountArgs) -> None:
    """Count."""


@pytest.fixture
async def client_with_count(
    settings: Settings, redis: TrackedRedis
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, registry=JobRegistry([count]), connect=lambda _: redis)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://t") as c,
    ):
        yield c


async def test_the_union_is_built_from_the_apps_own_registry(
    client_with_count: httpx.AsyncClient,
) -> None:
    document = await openapi(client_with_count)
    union = resolve(document, UNION_NAME)
    assert list(union["discriminator"]["mapping"]) == ["count"]
    variant = resolve(document, COMPONENTS + variant_name("count"))
    assert variant["properties"]["args"]["properties"]["upto"]["type"] == "integer"
    assert variant["required"] == ["function", "args"]
