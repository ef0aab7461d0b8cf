"""What a webhook request may carry as headers: well-formed ones the job does not own.

Checked by `WebhookArgs`, so both at enqueue (a 422 naming the header) and by the worker before a
stored job runs (a job planted, or enqueued by an older version, fails at once as
`InvalidJobArgs` instead of being retried as if the target were down).

- A name is an RFC 9110 token; a value is visible ASCII with inner spaces or tabs: no CR, LF,
  NUL or other control character (header injection), no leading or trailing whitespace (not
  part of a field value) and nothing the HTTP client would have to encode.
- Framing, hop-by-hop and connection-specific headers are the HTTP client's: a caller's
  `Transfer-Encoding` beside our `Content-Length` desyncs the target (CL.TE), a caller's `Host`
  would send the request to a different virtual host than the one checked.
- The body is always the JSON the job encodes: `Content-Encoding` is refused, and `Content-Type`
  may only name a JSON media type (`application/json`, or a `+json` one such as
  `application/cloudevents+json`, with parameters), so a target that wants its own JSON type
  gets it, a job enqueued with an explicit `application/json` still runs, and nothing can label
  the body as something it is not.
"""

import re

MAX_HEADERS = 32
MAX_HEADER_VALUE_BYTES = 4096
MAX_HEADERS_TOTAL_BYTES = 8192  # names and values together; servers refuse beyond ~8-16 KiB

TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[ \t]*[\x21-\x7e])*)?")
JSON_MEDIA_TYPE = re.compile(r"application/(?:[-!#$%&'*.^_`|~0-9a-z]+\+)?json(?:[ \t]*;.*)?", re.I)

OWNED_HEADERS = frozenset(
    {
        # framing: the HTTP client writes them from the body it sends
        "content-length",
        "transfer-encoding",
        "te",
        "trailer",
        "expect",
        # the connection and its hops (RFC 9110 section 7.6.1), and HTTP/2's
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "upgrade",
        "http2-settings",
        # where the request goes: set from the URL that was checked
        "host",
        # the body is never encoded (Content-Type: see `check_headers`)
        "content-encoding",
    }
)


def check_header_name(name: str) -> str:
    if not TOKEN.fullmatch(name):
        raise ValueError(
            "a header name is a token: letters, digits and !#$%&'*+-.^_`|~ (no spaces, "
            "colons or control characters)"
        )
    if name.lower() in OWNED_HEADERS:
        raise ValueError(f"{name} is set by the webhook job itself and may not be given")
    return name


def check_header_value(value: str) -> str:
    if len(value) > MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"a header value is at most {MAX_HEADER_VALUE_BYTES} bytes")
    if not FIELD_VALUE.fullmatch(value):
        raise ValueError(
            f"a header value is printable ASCII with inner spaces or tabs: {_flaw(value)}"
        )
    return value


def _flaw(value: str) -> str:
    """What is wrong with a value `FIELD_VALUE` refuses, in words."""
    controls = sorted({c for c in value if (c < " " and c != "\t") or c == "\x7f"})
    if controls:
        return "it holds " + ", ".join(_CONTROL_NAMES.get(c, f"U+{ord(c):04X}") for c in controls)
    if not value.isascii():
        return "it holds a non-ASCII character"
    return "it has leading or trailing whitespace"


_CONTROL_NAMES = {"\r": "CR", "\n": "LF", "\x00": "NUL"}


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """The set as a whole: its size, and no name given twice in different cases."""
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    total = sum(len(name) + len(value) for name, value in headers.items())
    if total > MAX_HEADERS_TOTAL_BYTES:
        raise ValueError(f"headers are at most {MAX_HEADERS_TOTAL_BYTES} bytes in all")
    seen: dict[str, str] = {}
    for name, value in headers.items():
        earlier = seen.setdefault(name.lower(), name)
        if earlier != name:
            raise ValueError(f"{earlier} and {name} are the same header")
        if name.lower() == "content-type" and not JSON_MEDIA_TYPE.fullmatch(value):
            raise ValueError(
                f"{name} may only name a JSON media type (application/json or "
                "application/<type>+json): the body is always JSON"
            )
    return headers
