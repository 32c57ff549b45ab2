"""What one attempt produced, as plain values: the error kinds and the transport's outcome.

Django-free: the transport, the retry policy, the engine, the metrics and the models' choices
all use these one definitions.
"""

from dataclasses import dataclass, field
from enum import StrEnum

MAX_ERROR_MESSAGE_CHARS = 500


class ErrorKind(StrEnum):
    """Why an attempt did not succeed; empty error_kind means a 2xx answer."""

    # No HTTP response came back (the transport decides these).
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    BLOCKED_DESTINATION = "blocked_destination"
    TLS = "tls"
    INVALID_RESPONSE = "invalid_response"
    # A response that is not 2xx (the engine decides these, and the two below).
    HTTP_STATUS = "http_status"
    # Not sent: the webhook was disabled or deleted meanwhile.
    WEBHOOK_DISABLED = "webhook_disabled"
    # Our failure, not the endpoint's (an undecryptable secret, a bug): counts under the policy.
    INTERNAL_ERROR = "internal_error"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").title()

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """Return (value, label) pairs, as a model field's choices."""
        return [(kind.value, kind.label) for kind in cls]


def storable(text: str) -> str:
    """Return text as PostgreSQL text and jsonb can hold it (no NUL): receivers send anything."""
    return text.replace("\x00", "\ufffd")


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one HTTP attempt produced: a response, or an error kind and message."""

    status_code: int | None = None
    duration_ms: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, capped
    body: str = ""  # truncated to RESPONSE_BODY_LIMIT_BYTES
    error_kind: str = ""
    error_message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
