"""Emit an event: validate it, store it once, and fan it out to the matching webhooks."""

import hashlib
import logging
import uuid
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework import exceptions

from webhooks import events
from webhooks.conf import app_settings
from webhooks.engine import wakeups
from webhooks.engine.backend import get_store
from webhooks.engine.store import Subscription
from webhooks.exceptions import IdempotencyKeyReused, PayloadTooLarge
from webhooks.models import Event
from webhooks.observability import metrics, tracing

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_CHARS = 255


@tracing.traced("webhooks.emit")
def emit_webhook_event(
    project_id: uuid.UUID | str,
    event_type: str,
    data: dict[str, Any],
    idempotency_key: str | None = None,
    *,
    occurred_at: datetime | None = None,
    operator_event: bool = False,
) -> Event:
    """Store the event and one pending delivery per matching webhook, or replay a known key.

    The returned event carries `created` (False when the key was seen before with the same type
    and data, in which case nothing was written) and `delivery_count`. Bad input raises a DRF
    ValidationError keyed by field path, or PayloadTooLarge; a key seen before with other
    content raises IdempotencyKeyReused (409). Nothing is written then. operator_event admits
    the operator-only types (webhooks.services.operator sends those).
    """
    kind = events.emittable(event_type, operator=operator_event)
    data = _plain_json(data)
    events.validate_data(kind, data)
    _check_key(idempotency_key)
    project_id = uuid.UUID(str(project_id))
    application_id, application_slug, environment = events.scope(data)
    event = Event(
        project_id=project_id,
        type=event_type,
        idempotency_key=idempotency_key,
        content_hash=_content_hash(event_type, data) if idempotency_key is not None else "",
        application_id=application_id,
        application_slug=application_slug,
        environment=environment,
        trace_context=tracing.current_context(),  # every attempt's span is a child of this one
    )
    event.body = events.render_envelope(
        event.id, event_type, project_id, occurred_at or timezone.now(), data
    )
    _check_size(event.body)
    store = get_store()

    def match(subscriptions: list[Subscription]) -> list[uuid.UUID]:
        return [w for w, types, filters in subscriptions if _matches(types, filters, event)]

    try:
        # The event and its deliveries exist together or not at all: insert_event is atomic
        # by itself (one statement on PostgreSQL: no BEGIN and COMMIT round trips). Inside a
        # caller's transaction it runs in a savepoint, so a duplicate key leaves that usable,
        # and the wake-up waits for the caller's commit.
        atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
        with atomic, tracing.span("webhooks.store") as span:
            sent = store.insert_event(event, match)
            wakeups.wake_after_commit(webhook_id for webhook_id, _ in sent)
            if span is not None:
                span.set_attribute("webhooks.deliveries", len(sent))
    except IntegrityError:
        # The unique (project, idempotency key) constraint decides races: exactly one insert wins
        # and every other caller, once it has committed, reads the winner.
        existing = _existing(event)
        if existing is None:
            raise
        logger.info("event %s replayed for idempotency key of project %s", existing.id, project_id)
        return existing
    event.created, event.delivery_count = True, len(sent)
    metrics.event_emitted(event.type)
    logger.info("event %s (%s) fans out to %d webhooks", event.id, event.type, len(sent))
    return event


def _matches(types: list[str], filters: dict, event: Event) -> bool:
    """Return whether a webhook's event types and filters admit the event."""
    # "*" never covers operator types: only the operator's webhook lists them by name.
    wildcard = events.WILDCARD in types and not events.is_operator_type(event.type)
    if event.type not in types and not wildcard:
        return False
    applications = _normalised(filters.get("applications") or [])
    if applications and not applications & _normalised(
        [event.application_id, event.application_slug]
    ):
        return False
    environments = set(filters.get("environments") or [])
    return not environments or event.environment in environments


def _existing(event: Event) -> Event | None:
    """Return the event stored earlier with the same key, if its content is the same."""
    if event.idempotency_key is None:
        return None
    earlier = Event.objects.filter(
        project_id=event.project_id, idempotency_key=event.idempotency_key
    ).first()
    if earlier is None:
        return None
    # Events stored before content hashes were kept have none: they replay as they did.
    if earlier.content_hash and earlier.content_hash != event.content_hash:
        raise IdempotencyKeyReused(earlier.id)
    earlier.created, earlier.delivery_count = False, earlier.deliveries.count()
    return earlier


def _content_hash(event_type: str, data: Any) -> str:
    # Sorted keys: the same content sent again with its keys in another order is the same.
    canonical = orjson.dumps([event_type, data], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


_PLAIN_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_to_json = DjangoJSONEncoder().default  # datetimes, Decimals, lazy strings: as json.dumps did


def _plain_json(data: Any) -> Any:
    # In-process callers may pass UUIDs and datetimes (a pydantic model_dump()); make them the
    # JSON the receivers will see, so validation and the stored body agree. orjson writes NaN
    # and infinities as null, and refuses lone surrogates and nesting deeper than 254.
    try:
        return orjson.loads(orjson.dumps(data, default=_to_json, option=_PLAIN_OPTIONS))
    except orjson.JSONEncodeError as exc:
        raise exceptions.ValidationError({"data": [f"Not JSON: {exc}."]}) from exc


def _check_key(idempotency_key: str | None) -> None:
    if idempotency_key is None:
        return
    if not idempotency_key.strip():
        raise exceptions.ValidationError({"idempotency_key": ["Must not be blank."]})
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise exceptions.ValidationError(
            {"idempotency_key": [f"At most {IDEMPOTENCY_KEY_MAX_CHARS} characters."]}
        )
    if "\x00" in idempotency_key:  # PostgreSQL can't store it
        raise exceptions.ValidationError({"idempotency_key": ["Null characters are not allowed."]})


def _check_size(body: str) -> None:
    size = len(body.encode("utf-8"))
    limit = app_settings.MAX_PAYLOAD_BYTES
    if size > limit:
        raise PayloadTooLarge(f"The event is {size} bytes; the limit is {limit}.")


def _normalised(values: Iterable[Any]) -> set[str]:
    # Application ids are UUIDs: compare them however they were spelled (case, dashes).
    result = set()
    for value in values:
        if not value:
            continue
        try:
            result.add(str(uuid.UUID(str(value))))
        except ValueError:
            result.add(str(value))
    return result
