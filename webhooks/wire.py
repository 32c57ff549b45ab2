"""The request a receiver sees (DESIGN.md section 6), and its redacted copy for the history."""

from collections.abc import Iterable, Mapping

from webhooks import __version__, signing

USER_AGENT = f"agenta-webhooks/{__version__}"
REDACTED = "[redacted]"

# Ours, or managed by the HTTP client: a webhook's custom headers can't replace them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-agenta-event",
        "x-agenta-delivery",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)
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
) -> dict[str, str]:
    """Return the signed headers of one attempt, custom headers last and never overriding."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.sign_headers(secrets, delivery_id, body, timestamp),
        "X-Agenta-Event": event_type,
        "X-Agenta-Delivery": delivery_id,
    }
    for name, value in (custom or {}).items():
        if str(name).lower() not in RESERVED_HEADERS:
            headers[str(name)] = str(value)
    return headers


def is_sensitive(name: str) -> bool:
    """Return whether a header's value must not be stored or shown."""
    lower = name.lower()
    return any(part in lower for part in _SENSITIVE_PARTS)


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """Return headers with the signature and credential-like values replaced by [redacted]."""
    return {name: REDACTED if is_sensitive(name) else value for name, value in headers.items()}
