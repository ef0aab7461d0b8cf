"""`webhook`: POST a JSON payload to a URL, retrying transient failures with backoff."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import SETTINGS_CONTEXT_KEY, job
from jobqueue.jobs.destinations import check_literal_host, resolve_public
from jobqueue.jobs.retry import RetryableError

MAX_REQUEST_TIMEOUT = 60.0


class WebhookUnavailable(RetryableError):
    """5xx, 429, a timeout or a connection error: worth trying again."""


class WebhookRejected(Exception):
    """Any other 4xx: the target refused this request, so retrying cannot help."""


class WebhookArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: HttpUrl
    payload: dict[str, Any]
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=MAX_REQUEST_TIMEOUT)

    @field_validator("url")
    @classmethod
    def _public_destination(cls, url: HttpUrl, info: ValidationInfo) -> HttpUrl:
        settings = (info.context or {}).get(SETTINGS_CONTEXT_KEY)
        allowed = settings.webhook_allowed_hosts if settings is not None else frozenset()
        check_literal_host(httpx.URL(str(url)).host, allowed)  # raises a ValueError subclass
        return url


class WebhookResult(BaseModel):
    status_code: int


@job(max_tries=5, timeout=MAX_REQUEST_TIMEOUT + 30)
async def webhook(ctx: JobContext, args: WebhookArgs) -> WebhookResult:
    """POST `payload` as JSON to `url`; 5xx, 429, timeouts and connection errors are retried."""
    url = httpx.URL(str(args.url))
    port = url.port or (443 if url.scheme == "https" else 80)
    address = await resolve_public(url.host, port, ctx.settings.webhook_allowed_hosts)
    target, headers, extensions = url, httpx.Headers(args.headers), {}
    if address is not None and address != url.host:  # to the address checked, not a new lookup
        target = url.copy_with(host=address)
        headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host  # and the certificate is checked for the name
    try:
        response = await ctx.http.post(
            target,
            json=args.payload,
            headers=headers,
            timeout=args.timeout,
            extensions=extensions,
        )
    except httpx.TimeoutException as exc:
        raise WebhookUnavailable(f"{url.host} did not answer within {args.timeout}s") from exc
    except httpx.TransportError as exc:
        raise WebhookUnavailable(f"could not reach {url.host}: {exc!r}") from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise WebhookUnavailable(
            f"{url.host} answered {status}", retry_after=_retry_after(response)
        )
    if status >= 400:
        raise WebhookRejected(f"{url.host} answered {status}")
    return WebhookResult(status_code=status)


def _retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds (delta or HTTP date), if present and valid."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
