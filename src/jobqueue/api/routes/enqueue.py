"""Enqueueing: `POST /v1/jobs` (the hot route, with its arguments resolved by hand) and
`POST /v1/jobs/batch` (their args checked by `api.enqueue_validation`)."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from jobqueue.access.gate import burst_of
from jobqueue.access.principal import Principal
from jobqueue.access.scopes import Scope
from jobqueue.api.auth import GuardedRoute, audit_detail, authorize, guarded
from jobqueue.api.dependencies import (
    Services,
    ServicesDep,
    principal_of,
    request_id_of,
    services_of,
    tenant_queue_of,
)
from jobqueue.api.enqueue_validation import enqueue_options, validated_args
from jobqueue.api.errors import CONFLICT, RATE_LIMITED, UNAVAILABLE, UNPARSABLE
from jobqueue.api.schemas import (
    ENQUEUE_EXAMPLES,
    BatchEnqueueRequest,
    BatchEnqueueResult,
    BatchItemResult,
    EnqueueRequest,
)
from jobqueue.api.validation_details import safe_details
from jobqueue.errors import JobConflict, JobRejected
from jobqueue.history.view import JobView
from jobqueue.queue import EnqueueOptions

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=GuardedRoute)
ENQUEUE_AUDIT = "enqueue"

M = TypeVar("M", bound=BaseModel)


async def enqueue_job(
    request: Annotated[EnqueueRequest, Body(openapi_examples=ENQUEUE_EXAMPLES)],
    http_request: Request,
    services: ServicesDep,
) -> Response:
    """Enqueue a registered job. Same `job_id`, function and args again: 200 and the same job."""
    services.gate.charge(principal_of(http_request))  # (an invalid enqueue counts too)
    definition, args = validated_args(request, services.registry, services.settings)
    options = enqueue_options(request, request_id_of(http_request))
    try:
        view, created = await tenant_queue_of(http_request).enqueue(definition.name, args, options)
    except JobConflict:
        services.metrics.enqueued.labels(definition.name, "conflict").inc()
        raise
    services.metrics.enqueued.labels(definition.name, "created" if created else "existing").inc()
    audit_detail(http_request, job_id=view.job_id, function=definition.name)
    # The view is ours and valid: serialize it once, skipping FastAPI's re-validation.
    return Response(
        view.model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        media_type="application/json",
        headers={"Location": f"{router.prefix}/{view.job_id}"},
    )


async def _json_body(request: Request, model: type[M]) -> M | None:
    """The body as `model` when it is JSON that validates; None for anything else (the
    caller then lets FastAPI parse it, for FastAPI's exact error responses)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return None
    body = await request.body()
    try:
        return model.model_validate_json(body) if body else None
    except ValidationError:
        return None


class _EnqueueRoute(APIRoute):
    """`POST /v1/jobs`, the hot route, with its arguments resolved by hand: a JSON body is
    parsed and validated in one step (`model_validate_json`) and the services come straight
    from `app.state`, skipping FastAPI's generic dependency solving and body parsing (about a
    third of the route's cost). Anything else (not JSON, empty, invalid) goes through FastAPI's
    own handler, so error responses stay exactly FastAPI's. OpenAPI is generated as usual,
    from `enqueue_job`'s signature, then its body described per function by
    `api.enqueue_schema`. (`get_route_handler` is FastAPI's documented hook for this.)
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()

        async def handle(http_request: Request) -> Response:
            authorize(http_request, Scope.jobs_write, ENQUEUE_AUDIT)  # before the body is read
            request = await _json_body(http_request, EnqueueRequest)
            if request is None:
                return await generic(http_request)
            return await enqueue_job(request, http_request, services_of(http_request))

        return handle


router.add_api_route(
    "",
    enqueue_job,
    methods=["POST"],
    route_class_override=_EnqueueRoute,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    **guarded(
        Scope.jobs_write,
        audit=ENQUEUE_AUDIT,
        responses={
            200: {
                "model": JobView,
                "description": "A job with this `job_id`, function and args exists",
            },
            **UNPARSABLE,
            **CONFLICT,
            **RATE_LIMITED,
            **UNAVAILABLE,
        },
    ),
)


@router.post(
    "/batch",
    response_model=BatchEnqueueResult,
    **guarded(
        Scope.jobs_write, audit="batch", responses={**UNPARSABLE, **RATE_LIMITED, **UNAVAILABLE}
    ),
)
async def enqueue_jobs(
    request: BatchEnqueueRequest, http_request: Request, services: ServicesDep
) -> Response:
    """Enqueue up to 1,000 jobs at once, written in one round trip. Each item is validated
    and made idempotent on its own and gets its own result; one bad item fails only itself.
    Each item counts towards the key's rate limit."""
    _charge_batch(services, principal_of(http_request), len(request.jobs))
    results: list[BatchItemResult | None] = [None] * len(request.jobs)
    valid: list[tuple[int, str, dict[str, Any], EnqueueOptions]] = []
    for i, raw in enumerate(request.jobs):
        try:
            item = EnqueueRequest.model_validate(raw)
            definition, args = validated_args(item, services.registry, services.settings)
        except (ValidationError, RequestValidationError) as exc:
            errors = (
                exc.errors()
                if isinstance(exc, RequestValidationError)
                else [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            )
            detail = safe_details(_item_error(e, i) for e in errors)
            results[i] = BatchItemResult(status_code=422, detail=detail)
            continue
        valid.append((i, definition.name, args, enqueue_options(item, request_id_of(http_request))))
    queue = tenant_queue_of(http_request)
    outcomes = await queue.enqueue_batch([(f, a, o) for _, f, a, o in valid])
    metrics = services.metrics
    for (i, function, _, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, JobConflict):
            metrics.enqueued.labels(function, "conflict").inc()
            results[i] = BatchItemResult(status_code=409, detail=outcome.detail)
        elif isinstance(outcome, JobRejected):
            results[i] = BatchItemResult(status_code=422, detail=outcome.detail)
        else:
            view, created = outcome
            metrics.enqueued.labels(function, "created" if created else "existing").inc()
            results[i] = BatchItemResult(status_code=202 if created else 200, job=view)
    final = [r for r in results if r is not None]
    codes = [r.status_code for r in final]
    summary = BatchEnqueueResult(
        created=codes.count(202),
        existing=codes.count(200),
        failed=len(codes) - codes.count(202) - codes.count(200),
        results=final,
    )
    audit_detail(
        http_request, created=summary.created, existing=summary.existing, failed=summary.failed
    )
    # Serialize once (FastAPI would re-validate a thousand job views first).
    return Response(summary.model_dump_json(), media_type="application/json")


def _charge_batch(services: Services, principal: Principal, jobs: int) -> None:
    """A batch the key's burst cannot hold would never pass: 422 saying so, not 429."""
    burst = burst_of(principal)
    if burst is not None and jobs > burst:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "jobs"),
                    "msg": f"{jobs} jobs are more than the API key {principal.name!r} may send "
                    f"at once ({burst}: twice its rate_per_second); split the batch",
                    "input": None,
                }
            ]
        )
    services.gate.charge(principal, jobs)


def _item_error(error: Any, index: int) -> dict[str, Any]:
    """A validation error of item `index`, located as `["body", "jobs", index, ...]`."""
    loc = tuple(error["loc"])
    return {
        "type": error["type"],
        "loc": ["body", "jobs", index, *loc[1:]],
        "msg": error["msg"],
        "input": error.get("input"),
    }
