"""The request a receiver sees (DESIGN.md section 6), and its redacted copy for the history."""

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from webhooks import __version__, signing

USER_AGENT = f"agenta-webhooks/{__version__}"
REDACTED = "[redacted]"
ELLIPSIS = "…"  # stands for the redacted parts of a URL
# A redacted URL is at most this long: the column of DeliveryAttempt.request_url.
MAX_REDACTED_URL_CHARS = 2048

# Ours, or managed by the HTTP client, or hop-by-hop (they would break or smuggle the request):
# a webhook's custom headers can't set them. Validation refuses them and sending skips them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        # W3C trace context: set on each request while tracing is on (observability/tracing.py).
        "traceparent",
        "tracestate",
    }
)
# The signature headers (webhook-id, -timestamp, -signature) and ours (X-Agenta-Event, -Delivery).
RESERVED_HEADER_PREFIXES = ("webhook-", "x-agenta-")
# A header whose name contains one of these is recorded as [redacted].
_SENSITIVE_PARTS = (
    "auth",
    "cookie",
    "token",
    "secret",
    "key",
    "signature",
    "password",
    "session",
    "credential",
)


def request_headers(
    *,
    delivery_id: str,
    event_type: str,
    body: str | bytes,
    secrets: Iterable[str],
    custom: Mapping[str, str] | None = None,
    timestamp: int | None = None,
    signing_keys: Iterable[str] = (),
) -> dict[str, str]:
    """Return the signed headers of one attempt, custom headers last and never overriding."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.sign_headers(secrets, delivery_id, body, timestamp, signing_keys),
        "X-Agenta-Event": event_type,
        "X-Agenta-Delivery": delivery_id,
    }
    for name, value in (custom or {}).items():
        if not is_reserved(str(name)):
            headers[str(name)] = str(value)
    return headers


def is_reserved(name: str) -> bool:
    """Return whether a custom header may not carry this name (the service sets it)."""
    lower = name.lower()
    return lower in RESERVED_HEADERS or lower.startswith(RESERVED_HEADER_PREFIXES)


def is_sensitive(name: str) -> bool:
    """Return whether a header's value must not be stored or shown."""
    lower = name.lower()
    return any(part in lower for part in _SENSITIVE_PARTS)


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """Return headers with the signature and credential-like values replaced by [redacted]."""
    return {name: REDACTED if is_sensitive(name) else value for name, value in headers.items()}


def redacted_url(url: str) -> str:
    """Return url with its path, query values and user info replaced by an ellipsis.

    Receivers often put a token in the path or the query (Slack, Discord): the history, the
    logs and read-only callers see `https://hooks.example.com/…?token=…` instead.
    """
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ELLIPSIS
    if not parts.scheme or not host:
        return ELLIPSIS
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = f"{ELLIPSIS}@{netloc}"
    path = parts.path if parts.path in ("", "/") else f"/{ELLIPSIS}"
    shown = f"{parts.scheme}://{netloc}{path}"
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if names:
        shown += "?" + "&".join(f"{name}={ELLIPSIS}" for name in names)
    if len(shown) > MAX_REDACTED_URL_CHARS:
        # "?a&a&a..." grows by "=…" per name: cut it to fit the column that stores it.
        cut = shown[: MAX_REDACTED_URL_CHARS - len(ELLIPSIS)]
        shown = cut[: cut.rfind("&") + 1] + ELLIPSIS if "&" in cut else cut + ELLIPSIS
    return shown


def shown_url(url: str, may_write: bool) -> str:
    """Return url whole to someone who may change its webhook, else redacted (redacted_url).

    The one rule of every read path: the API, the admin, the portal.
    """
    return str(url) if may_write else redacted_url(url)


_URL_IN_TEXT = re.compile(r"https?://[^\s'\"()<>]+")
_URLLIB3_PATH = re.compile(r"(with url: )\S+")  # "Max retries exceeded with url: /path?query"


def redacted_error(text: str) -> str:
    """Return an error message with the URLs and request paths in it redacted.

    The HTTP client quotes the request path and query in some errors (urllib3's "Max retries
    exceeded with url: /services/T0/B0/token"), and a webhook URL may carry a token there.
    """
    text = _URLLIB3_PATH.sub(rf"\g<1>/{ELLIPSIS}", text)
    return _URL_IN_TEXT.sub(lambda match: redacted_url(match.group(0)), text)
