"""Enqueue: the registered functions, and a form for each generated from its args schema,
checked by the code `POST /v1/jobs` uses (`api.enqueue_validation`) and enqueued alike: rate
limited, audited, into the key's tenant."""

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from jobqueue.access.scopes import Scope
from jobqueue.api.auth import audit_detail
from jobqueue.api.dependencies import principal_of, request_id_of, services_of, tenant_queue_of
from jobqueue.api.enqueue_validation import enqueue_options, validated_args
from jobqueue.api.errors import RETRY_AFTER_SECONDS
from jobqueue.api.routes.enqueue import ENQUEUE_AUDIT
from jobqueue.api.schemas import EnqueueRequest
from jobqueue.api.validation_details import safe_details
from jobqueue.dashboard import args_form
from jobqueue.dashboard.pages import (
    acting_viewer,
    page,
    page_router,
    refused,
    respond,
    to,
    viewer_or_login,
)
from jobqueue.dashboard.sessions import Viewer
from jobqueue.errors import JobConflict, JobQueueError
from jobqueue.history.view import JobView
from jobqueue.jobs.declaration import JobDefinition

router = page_router()


@router.get("/enqueue")
async def functions_page(request: Request) -> Response:
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    listing = page(
        "enqueue.html",
        viewer=viewer,
        page="enqueue",
        functions=list(services_of(request).registry) if _may_see(viewer) else None,
        may_enqueue=_may_enqueue(viewer),
    )
    return respond(request, listing)


@router.get("/enqueue/{function}")
async def form_page(request: Request, function: str) -> Response:
    viewer = await viewer_or_login(request)
    if isinstance(viewer, Response):
        return viewer
    if not _may_see(viewer):
        return respond(request, refused(NOT_SHOWN))
    definition = services_of(request).registry.get(function)
    if definition is None:
        return respond(request, refused(f"no function named {function!r}", status_code=404))
    fields = _fields(definition)
    return respond(request, _form(viewer, definition, values=args_form.defaults(fields)))


@router.post("/enqueue/{function}")
async def enqueue_from_form(request: Request, function: str) -> Response:
    """Enqueue as `POST /v1/jobs` would with the form's args: 303 to the job's page, or the
    form again with the API's message beside each bad field (422), or the refusal (409, 429,
    503) above it."""
    acting = await acting_viewer(request, ENQUEUE_AUDIT, Scope.jobs_write)
    if isinstance(acting, Response):
        return acting
    viewer, form = acting
    definition = services_of(request).registry.get(function)
    if definition is None:
        return refused(f"no function named {function!r}", status_code=404)
    kept = args_form.kept([*_fields(definition), *args_form.OPTIONS], form)
    try:
        view = await _enqueue(request, definition, form)
    except RequestValidationError as invalid:
        errors = safe_details(invalid.errors())
        return _form(viewer, definition, values=kept, errors=errors, status=422)
    except JobQueueError as failed:
        return _form(viewer, definition, values=kept, error=failed.detail, failed=failed)
    return to(f"/jobs/{quote(view.job_id, safe='')}")


async def _enqueue(request: Request, definition: JobDefinition, form: dict[str, str]) -> JobView:
    """The job enqueued from the form's fields, or every error they hold (`RequestValidationError`
    in the API's shape)."""
    services = services_of(request)
    args, errors = args_form.values_of(_fields(definition), form)
    options, _ = args_form.values_of(list(args_form.OPTIONS), form)
    body: EnqueueRequest | None = None
    try:
        body = EnqueueRequest.model_validate({"function": definition.name, "args": args, **options})
    except ValidationError as exc:  # (as FastAPI locates a body's errors)
        errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    else:  # (the API charges each enqueue that reaches it, valid args or not)
        services.gate.charge(principal_of(request))
    unparsed = {tuple(e["loc"])[:3] for e in errors}
    try:
        checked = body or EnqueueRequest(function=definition.name, args=args)
        _, stored = validated_args(checked, services.registry, services.settings)
    except RequestValidationError as invalid:  # (those of unparsed JSON fields: said already)
        errors += [e for e in invalid.errors() if tuple(e["loc"])[:3] not in unparsed]
    if errors or body is None:
        raise RequestValidationError(errors)
    queue = tenant_queue_of(request)
    try:
        view, created = await queue.enqueue(
            definition.name, stored, enqueue_options(body, request_id_of(request))
        )
    except JobConflict:
        services.metrics.enqueued.labels(definition.name, "conflict").inc()
        raise
    services.metrics.enqueued.labels(definition.name, "created" if created else "existing").inc()
    audit_detail(request, job_id=view.job_id, function=definition.name)
    return view


def _fields(definition: JobDefinition) -> list[args_form.Field]:
    return args_form.fields_of(definition.args_schema())  # (the schema /v1/functions shows)


def _may_enqueue(viewer: Viewer) -> bool:
    return viewer.may(Scope.jobs_write)


NOT_SHOWN = "this key lacks the scope 'jobs:read' (or 'jobs:write'): functions are not shown"


def _may_see(viewer: Viewer) -> bool:
    """The functions and their schemas (`GET /v1/functions` needs jobs:read; one may enqueue
    what one may write)."""
    return viewer.may(Scope.jobs_read) or viewer.may(Scope.jobs_write)


def _form(
    viewer: Viewer,
    definition: JobDefinition,
    *,
    values: dict[str, str],
    errors: list[dict[str, Any]] | None = None,
    error: str | None = None,
    failed: JobQueueError | None = None,
    status: int = 200,
) -> HTMLResponse:
    fields = _fields(definition)
    by_key: dict[str, list[str]] = {}
    for e in errors or []:
        by_key.setdefault(args_form.key_of(e["loc"]) or "", []).append(str(e["msg"]))
    labels = {f.key: f for f in [*fields, *args_form.OPTIONS]}
    summary = [(labels.get(args_form.key_of(e["loc"]) or ""), str(e["msg"])) for e in errors or []]
    response = page(
        "enqueue_form.html",
        status_code=failed.status_code if failed else status,
        viewer=viewer,
        page="enqueue",
        function=definition,
        fields=fields,
        options=args_form.OPTIONS,
        values=values,
        field_errors=by_key,
        summary=summary,
        error=error,
        may_enqueue=_may_enqueue(viewer),
    )
    if failed is not None:  # (as the API answers it)
        retry = {"Retry-After": RETRY_AFTER_SECONDS} if failed.status_code == 503 else {}
        response.headers.update(retry or failed.headers)
    return response
