"""`webhook`: POST a JSON payload to a URL, retrying transient failures with backoff."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

import httpx
import structlog
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from jobqueue.jobs.context import JobContext
from jobqueue.jobs.declaration import SETTINGS_CONTEXT_KEY, job
from jobqueue.jobs.destinations import DestinationNotAllowed, check_literal_host, resolve_public
from jobqueue.jobs.retry import RetryableError
from jobqueue.jobs.webhook_headers import (
    FIELD_VALUE,
    MAX_HEADER_VALUE_BYTES,
    MAX_HEADERS,
    TOKEN,
    check_header_name,
    check_header_value,
    check_headers,
)

MAX_REQUEST_TIMEOUT = 60.0

log = structlog.get_logger("jobqueue.jobs.webhook")

# The schemas say what the validators check, so generated clients and fuzzers send valid ones
HeaderName = Annotated[
    str,
    AfterValidator(check_header_name),
    WithJsonSchema({"type": "string", "pattern": f"^{TOKEN.pattern}$"}),
]


# Header values are secret (an Authorization, a signature): sealed in Redis, masked when shown
def _check_secret_value(value: SecretStr) -> SecretStr:
    check_header_value(value.get_secret_value())
    return value


HeaderValue = Annotated[
    SecretStr,
    AfterValidator(_check_secret_value),
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "maxLength": MAX_HEADER_VALUE_BYTES,
            "pattern": f"^{FIELD_VALUE.pattern}$",
        }
    ),
]


class WebhookUnavailable(RetryableError):
    """5xx, 429, a timeout or a connection error: worth trying again."""


class WebhookRejected(Exception):
    """Any other 4xx: the target refused this request, so retrying cannot help."""


class WebhookMalformed(Exception):
    """The HTTP client refused to write the request (a header it cannot send): permanent.

    `WebhookArgs` refuses such headers first; this keeps a gap between its checks and the
    client's from being retried as if the target were down."""


class WebhookArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: HttpUrl
    payload: dict[str, Any]
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict,
        description="extra request headers, their values secret (encrypted at rest, shown as "
        "********** and needing JOBQUEUE_SECRETS_KEY): not Host, Content-Length, "
        "Transfer-Encoding or another framing or hop-by-hop header (the job sets those); "
        "Content-Type only as a JSON media type (application/json or application/<type>+json)",
        json_schema_extra={"maxProperties": MAX_HEADERS, "additionalProperties": False},
    )
    timeout: float = Field(default=10.0, ge=0.1, le=MAX_REQUEST_TIMEOUT)  # less always fails

    @field_validator("url")
    @classmethod
    def _public_destination(cls, url: HttpUrl, info: ValidationInfo) -> HttpUrl:
        settings = (info.context or {}).get(SETTINGS_CONTEXT_KEY)
        allowed = settings.webhook_allowed_hosts if settings is not None else frozenset()
        parsed = httpx.URL(str(url))
        if parsed.port == 0:
            raise DestinationNotAllowed("port 0 is not a port a request can be sent to")
        check_literal_host(parsed.host, _port(parsed), allowed)  # raises a ValueError subclass
        return url

    @field_validator("headers")
    @classmethod
    def _bounded_headers(cls, headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        check_headers({name: value.get_secret_value() for name, value in headers.items()})
        return headers


class WebhookResult(BaseModel):
    status_code: int


@job(max_tries=5, timeout=MAX_REQUEST_TIMEOUT + 30)
async def webhook(ctx: JobContext, args: WebhookArgs) -> WebhookResult:
    """POST `payload` as JSON to `url`; 5xx, 429, timeouts and connection errors are retried."""
    url = httpx.URL(str(args.url))
    address = await resolve_public(url.host, _port(url), ctx.settings.webhook_allowed_hosts)
    given = {name: value.get_secret_value() for name, value in args.headers.items()}
    target, headers, extensions = url, httpx.Headers(given), {}
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
    except httpx.LocalProtocolError:
        # (h11's message quotes the header's value, which may be a secret: not repeated)
        raise WebhookMalformed(
            f"the request to {url.host} could not be written: the HTTP client refused a header"
        ) from None
    except httpx.TransportError as exc:
        # Refused, reset, TLS or protocol failure: the job's error (which the enqueuer reads)
        # does not say which, so it cannot map a host's ports; the operator's log does.
        log.warning("webhook.unreachable", host=url.host, port=_port(url), error=repr(exc))
        raise WebhookUnavailable(f"could not reach {url.host}") from exc
    status = response.status_code
    if status >= 500 or status == 429:
        raise WebhookUnavailable(
            f"{url.host} answered {status}", retry_after=_retry_after(response)
        )
    if status >= 400:
        raise WebhookRejected(f"{url.host} answered {status}")
    return WebhookResult(status_code=status)


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


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
