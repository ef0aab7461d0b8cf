"""The enqueue body in OpenAPI: a union discriminated by `function`, one variant per registered
job, each with that job's own args schema, so generated clients and fuzzers build valid requests.

The route itself still parses `EnqueueRequest` (args as a plain object, checked against the
job's model by name): that keeps the hot path's hand parsing and its error locations
(`["body", "args", ...]`, `unknown_function`). So the union is schema only, written into the
generated document once (FastAPI's documented way to extend OpenAPI: replace `app.openapi`);
`tests/unit/api/test_enqueue_schema.py` shows the real route accepts every variant and that
variants and registry agree.
"""

from typing import Any

from fastapi import FastAPI

from jobqueue.api.schemas import BatchEnqueueRequest, EnqueueRequest
from jobqueue.jobs.declaration import JobDefinition, JobRegistry

COMPONENTS = "#/components/schemas/"
UNION_NAME = "EnqueueJob"
ENQUEUE_PATH = "/v1/jobs"


def variant_name(function: str) -> str:
    return f"{UNION_NAME}_{function}"


def enqueue_components(registry: JobRegistry) -> dict[str, dict[str, Any]]:
    """Component schemas: one variant per job, the union of them, and the models they use."""
    # Nested models come in `$defs`, with refs already pointing where they go: the components.
    common = EnqueueRequest.model_json_schema(ref_template=COMPONENTS + "{model}")
    components: dict[str, dict[str, Any]] = dict(common.pop("$defs", {}))
    mapping: dict[str, str] = {}
    for definition in registry:
        name = variant_name(definition.name)
        components[name] = _variant(definition, common, components)
        mapping[definition.name] = COMPONENTS + name
    components[UNION_NAME] = {
        "title": "Enqueue a job",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "function", "mapping": mapping},
    }
    return components


def _variant(
    definition: JobDefinition, common: dict[str, Any], components: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    args = definition.args_model.model_json_schema(ref_template=COMPONENTS + "{model}")
    for model, schema in args.pop("$defs", {}).items():
        if components.setdefault(model, schema) != schema:
            raise ValueError(f"two different schemas are named {model!r}")
    properties = dict(common["properties"])
    properties["function"] = {**properties["function"], "const": definition.name}
    properties["args"] = {**args, "description": f"the arguments of `{definition.name}`"}
    return {
        "title": f"Enqueue {definition.name}",
        "description": definition.description,
        "type": "object",
        "properties": properties,
        "required": ["function", *(["args"] if args.get("required") else [])],
        "additionalProperties": False,
        # The model's one cross-field rule (`_one_deferral`), so valid bodies stay valid.
        "not": {"required": ["defer_by", "defer_until"]},
    }


def install_enqueue_schema(app: FastAPI, registry: JobRegistry) -> None:
    """Generate the document as FastAPI would, then describe the enqueue bodies by the union."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe_enqueue_bodies(generate(), enqueue_components(registry))  # (it caches)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_enqueue_bodies(document: dict[str, Any], components: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name, schema in components.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name!r}")
    union = {"$ref": COMPONENTS + UNION_NAME}
    body = document["paths"][ENQUEUE_PATH]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = union
    batch = schemas[BatchEnqueueRequest.__name__]["properties"]["jobs"]
    batch["items"] = union
    schemas.pop(EnqueueRequest.__name__, None)  # no longer referenced
