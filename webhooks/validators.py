"""Validate and normalise what users send for a webhook (shared by the API and the admin).

Custom headers: `Authorization` is allowed, because many receivers authenticate with a bearer
token; it is stored like the other headers and the delivery engine redacts it in recorded
attempts. The headers that carry the signature and the wire contract (`content-type`,
`content-length`, `host`, `user-agent`, `webhook-*`, `x-agenta-*`) and hop-by-hop headers are
reserved (one list, `wire.RESERVED_HEADERS`, also applied at send time), so a custom header can
never override them.
"""

import re

from django.core.exceptions import ValidationError

from webhooks import wire
from webhooks.conf import app_settings
from webhooks.egress import DestinationNotAllowed, validate_destination_url
from webhooks.events import WILDCARD, is_operator_type, subscribable_types

FILTER_KEYS = ("applications", "environments")
MAX_FILTER_VALUES = 100  # per filter key
MAX_FILTER_VALUE_LENGTH = 255  # characters
MAX_HEADER_NAME_LENGTH = 256  # characters
MAX_HEADER_VALUE_LENGTH = 4096  # characters
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 field name
_VALUE = re.compile(r"^[\t\x20-\x7e]*$")  # visible ASCII, space and tab: no CR, LF or NUL


def clean_url(value: str) -> str:
    """Return url if deliveries may go there, else raise ValidationError saying why."""
    try:
        validate_destination_url(value)
    except DestinationNotAllowed as exc:
        raise ValidationError(str(exc), code="invalid_url") from exc
    return value


def clean_event_types(value) -> list[str]:
    """Return the event types deduplicated in order (["*"] when it is among them)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Send a list of event type names, or ["*"] for all.')
    if not value:
        raise ValidationError('Subscribe to at least one event type, or ["*"] for all.')
    if WILDCARD in value:
        return [WILDCARD]
    reserved = [name for name in value if is_operator_type(name)]
    if reserved:
        raise ValidationError(
            f"{', '.join(reserved)}: operator events go only to the service operator's webhook; "
            "a project cannot subscribe to them."
        )
    known = subscribable_types()
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValidationError(
            f"Unknown event types: {', '.join(unknown)}. "
            f"Known: {', '.join(known)}, or {WILDCARD!r} for all."
        )
    return list(dict.fromkeys(value))


def clean_filters(value) -> dict[str, list[str]]:
    """Return the filters with both keys present; an empty list means "all"."""
    if not isinstance(value, dict):
        raise ValidationError('Send an object like {"applications": [...], "environments": [...]}.')
    unknown = sorted(set(value) - set(FILTER_KEYS))
    if unknown:
        raise ValidationError(
            f"Unknown filters: {', '.join(unknown)}. Known: {', '.join(FILTER_KEYS)}."
        )
    cleaned = {}
    for key in FILTER_KEYS:
        items = value.get(key, [])
        if not isinstance(items, list) or not all(_is_filter_value(item) for item in items):
            raise ValidationError(
                f"filters.{key} must be a list of non-empty strings of at most "
                f"{MAX_FILTER_VALUE_LENGTH} characters, without NUL characters."
            )
        if len(items) > MAX_FILTER_VALUES:
            raise ValidationError(f"filters.{key} may list at most {MAX_FILTER_VALUES} values.")
        cleaned[key] = list(dict.fromkeys(items))
    return cleaned


def _is_filter_value(item) -> bool:
    # NUL: PostgreSQL's jsonb can't store it, and the filter could never match anyway.
    return isinstance(item, str) and 0 < len(item) <= MAX_FILTER_VALUE_LENGTH and "\x00" not in item


def clean_headers(value) -> dict[str, str]:
    """Return the custom headers, or raise ValidationError naming every bad one."""
    if not isinstance(value, dict):
        raise ValidationError('Send an object of header names to values, like {"X-Team": "ml"}.')
    limit = app_settings.MAX_CUSTOM_HEADERS
    if len(value) > limit:
        raise ValidationError(f"At most {limit} custom headers are allowed; got {len(value)}.")
    errors, seen = [], set()
    for name, header_value in value.items():
        if not _TOKEN.match(name) or len(name) > MAX_HEADER_NAME_LENGTH:
            errors.append(f"{name!r} is not a valid header name.")
        elif wire.is_reserved(name):
            errors.append(f"{name!r} is reserved: the service sets it.")
        elif name.lower() in seen:
            errors.append(f"{name!r} is listed twice (header names ignore case).")
        elif not isinstance(header_value, str):
            errors.append(f"The value of {name!r} must be a string.")
        elif not _VALUE.match(header_value) or len(header_value) > MAX_HEADER_VALUE_LENGTH:
            errors.append(
                f"The value of {name!r} must be printable ASCII of at most "
                f"{MAX_HEADER_VALUE_LENGTH} characters, without line breaks."
            )
        seen.add(name.lower())
    if errors:
        raise ValidationError(errors)
    return {name: header_value.strip() for name, header_value in value.items()}
