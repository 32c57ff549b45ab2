"""One error shape for the whole API (the DRF EXCEPTION_HANDLER).

Validation errors are `{"<field>": ["message", ...]}` (`non_field_errors` for the request as a
whole); every other error is `{"detail": "message"}`. Malformed JSON answers 400, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE answers 413, a missing or bad credential 401 with
`WWW-Authenticate`, a missing scope 403, another project's resource 404, and an unreachable
database 503 with `Retry-After` (nothing was stored; the request can be sent again).
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    """The request body is larger than the service accepts."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self, detail: str | None = None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(detail or f"The request body is larger than {limit} bytes.")


class DatabaseUnavailable(exceptions.APIException):
    """The database did not answer: nothing was stored, and the same request may be sent again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; nothing was stored. Retry shortly."
    default_code = "database_unavailable"
    retry_after_seconds = 5


def exception_handler(exc, context):
    """Return the JSON error response for exc (None lets Django answer a 500)."""
    if isinstance(exc, Http404):
        # One message for every 404, so nothing hints at what exists (or at model names).
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, OperationalError | InterfaceError):
        # A restart or failover: tell clients (Agenta's emit) to retry rather than drop it.
        logger.warning("database unavailable during %s: %s", context["request"].path, exc)
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if isinstance(exc, DatabaseUnavailable) and response is not None:
        response["Retry-After"] = str(DatabaseUnavailable.retry_after_seconds)
    if response is not None and isinstance(response.data, list):
        # `raise ValidationError("msg")` gives a bare list: keep every 400 an object.
        response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
    return response


class IdempotencyKeyReused(exceptions.APIException):
    """An Idempotency-Key sent again with another type or other data: refused, nothing stored.

    The answer names the event stored with the key first: `{"detail": ..., "event_id": ...}`.
    """

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_reused"
    message = (
        "This Idempotency-Key was used before with another type or other data; nothing was "
        "stored. Send the same content again, or use a new key."
    )

    def __init__(self, event_id: object):
        self.event_id = event_id
        super().__init__({"detail": self.message, "event_id": str(event_id)})
