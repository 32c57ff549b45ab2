"""Emit an event: validate it, store it once, and fan it out to the matching webhooks."""

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions

from webhooks import events
from webhooks.conf import app_settings
from webhooks.exceptions import PayloadTooLarge
from webhooks.models import Delivery, Event, Webhook
from webhooks.observability import metrics
from webhooks.services import pgsql, queue

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_CHARS = 255


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

    The returned event carries `created` (False when the key was seen before, in which case
    nothing was written) and `delivery_count`. Bad input raises a DRF ValidationError keyed by
    field path, or PayloadTooLarge; nothing is written then. operator_event admits the
    operator-only types (webhooks.services.operator sends those).
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
        application_id=application_id,
        application_slug=application_slug,
        environment=environment,
    )
    event.body = events.render_envelope(
        event.id, event_type, project_id, occurred_at or timezone.now(), data
    )
    _check_size(event.body)
    try:
        # One transaction: the event and its deliveries exist together or not at all. Inside a
        # caller's transaction this is a savepoint, so a duplicate key leaves that usable.
        with transaction.atomic():
            event.save(force_insert=True)
            deliveries = _fan_out(event)
    except IntegrityError:
        # The unique (project, idempotency key) constraint decides races: exactly one insert wins
        # and every other caller, once it has committed, reads the winner.
        existing = _existing(project_id, idempotency_key)
        if existing is None:
            raise
        logger.info("event %s replayed for idempotency key of project %s", existing.id, project_id)
        return existing
    event.created, event.delivery_count = True, len(deliveries)
    metrics.event_emitted(event.type)  # HOOK(observability): count the stored event
    logger.info("event %s (%s) fans out to %d webhooks", event.id, event.type, len(deliveries))
    return event


def webhook_matches(webhook: Webhook, event: Event) -> bool:
    """Return whether webhook subscribes to event's type and its filters admit the event."""
    types = webhook.event_types or []
    # "*" never covers operator types: only the operator's webhook lists them by name.
    wildcard = events.WILDCARD in types and not events.is_operator_type(event.type)
    if event.type not in types and not wildcard:
        return False
    filters = webhook.filters or {}
    applications = _normalised(filters.get("applications") or [])
    if applications and not applications & _normalised(
        [event.application_id, event.application_slug]
    ):
        return False
    environments = set(filters.get("environments") or [])
    return not environments or event.environment in environments


def _fan_out(event: Event) -> list[Delivery]:
    # A constant number of queries whatever the fan-out: one read, one bulk insert. Secrets are
    # deferred so matching decrypts nothing.
    candidates = Webhook.objects.filter(
        project_id=event.project_id, is_active=True, deleted_at__isnull=True
    ).only("id", "event_types", "filters")
    now = timezone.now()
    # Kicked on commit, so held from the sweep for a dispatch lease (a failed kick drops it).
    queued_until = now + timedelta(seconds=app_settings.DISPATCH_LEASE_SECONDS)
    deliveries = [
        Delivery(event=event, webhook_id=webhook.id, next_attempt_at=now, queued_until=queued_until)
        for webhook in candidates
        if webhook_matches(webhook, event)
    ]
    if pgsql.supported():  # performance: bulk_create cost 3 ms of CPU for 50 deliveries
        pgsql.insert_all(deliveries)
    else:
        Delivery.objects.bulk_create(deliveries)
    queue.enqueue_deliveries([delivery.id for delivery in deliveries])
    return deliveries


def _existing(project_id: uuid.UUID, idempotency_key: str | None) -> Event | None:
    if idempotency_key is None:
        return None
    event = Event.objects.filter(project_id=project_id, idempotency_key=idempotency_key).first()
    if event is not None:
        event.created, event.delivery_count = False, event.deliveries.count()
    return event


def _plain_json(data: Any) -> Any:
    # In-process callers may pass UUIDs and datetimes (a pydantic model_dump()); make them the
    # JSON the receivers will see, so validation and the stored body agree.
    try:
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
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


def _check_size(body: str) -> None:
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800") parsed from a JSON escape
        raise exceptions.ValidationError({"data": ["Contains invalid Unicode."]}) from exc
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
