"""Operator events: signed events about the service itself, sent to the operator's webhook.

They are ordinary events of the reserved project WEBHOOKS["OPERATOR_PROJECT_ID"], emitted with
emit_webhook_event(), so they get the same signing, retries and history as any delivery. That
project's one webhook is created on first use and kept in step with OPERATOR_WEBHOOK_URL and
OPERATOR_WEBHOOK_SECRET; staff may disable it in the admin to pause the events. Nothing is ever
sent about the operator's own webhook (an endpoint that fails would report on itself forever).
"""

import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from rest_framework.exceptions import ValidationError

from webhooks import operator_events, wire
from webhooks.conf import app_settings
from webhooks.events import format_timestamp
from webhooks.exceptions import IdempotencyKeyReused
from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.outcomes import ErrorKind
from webhooks.services.emit import emit_webhook_event

logger = logging.getLogger(__name__)

OPERATOR_WEBHOOK_NAME = "Operator events"


def enabled() -> bool:
    """Return whether operator events are configured (a URL and a secret)."""
    return bool(app_settings.OPERATOR_WEBHOOK_URL and app_settings.OPERATOR_WEBHOOK_SECRET)


def project_id() -> uuid.UUID:
    """Return the reserved project whose events go to the operator."""
    return uuid.UUID(str(app_settings.OPERATOR_PROJECT_ID))


def operator_webhook_id() -> uuid.UUID:
    """Return the fixed id of the operator's webhook (one per operator project)."""
    return uuid.uuid5(project_id(), "operator-webhook")


def sync_operator_webhook() -> Webhook:
    """Create the operator's webhook, or update its URL and secret from the settings.

    Operator events are rare, so this runs before each: one SELECT when nothing changed.
    """
    wanted = {
        "project_id": project_id(),
        "name": OPERATOR_WEBHOOK_NAME,
        "url": app_settings.OPERATOR_WEBHOOK_URL,
        "secret": app_settings.OPERATOR_WEBHOOK_SECRET,
        "event_types": list(operator_events.OPERATOR_EVENT_TYPES),
    }
    # The fixed id settles a race between processes: get_or_create reads the winner's row.
    webhook, created = Webhook.objects.get_or_create(id=operator_webhook_id(), defaults=wanted)
    changed = [name for name, value in wanted.items() if getattr(webhook, name) != value]
    if changed:
        for name in changed:
            setattr(webhook, name, wanted[name])
        webhook.save(update_fields=[*changed, "updated_at"])
    if created or changed:
        logger.info("operator webhook %s now sends to the configured URL", webhook.id)
    return webhook


def _notify(event_type: str, data: dict[str, Any], idempotency_key: str) -> None:
    """Emit an operator event; log, never raise: the delivery that caused it is recorded."""
    try:
        sync_operator_webhook()
        emit_webhook_event(project_id(), event_type, data, idempotency_key, operator_event=True)
    except IdempotencyKeyReused:
        # Sent already under this key (webhook.failing: once a day), with other details then.
        logger.debug("operator event %s (%s) was sent already", event_type, idempotency_key)
    except (DatabaseError, ValidationError):
        logger.exception("operator event %s (%s) was not emitted", event_type, idempotency_key)


def _concerns_a_project(webhook: Webhook) -> bool:
    return enabled() and str(webhook.project_id) != str(project_id())


def _webhook(webhook: Webhook) -> dict[str, str]:
    return {
        "id": str(webhook.id),
        "project_id": str(webhook.project_id),
        "name": webhook.name,
        # The body is stored in plain text and shown in the admin: never the URL's credentials.
        "url": wire.redacted_url(webhook.url),
    }


def _time(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment else None


def webhook_disabled(
    webhook: Webhook, reason: str, at: datetime, failing_since: datetime | None
) -> None:
    """Tell the operator that webhook was disabled automatically at at."""
    if not _concerns_a_project(webhook):
        return
    data = {
        "webhook": _webhook(webhook),
        "reason": reason,
        "disabled_at": _time(at),
        "failing_since": _time(failing_since),
    }
    key = f"{operator_events.WEBHOOK_DISABLED}:{webhook.id}:{at.isoformat()}"
    _notify(operator_events.WEBHOOK_DISABLED, data, key)


def webhook_failing(webhook: Webhook, since: datetime, attempt: DeliveryAttempt) -> None:
    """Tell the operator that webhook started failing; once per webhook and UTC day."""
    if not _concerns_a_project(webhook):
        return
    data = {
        "webhook": _webhook(webhook),
        "failing_since": _time(since),
        "last_status_code": attempt.response_status,
        "last_error": attempt.error_message,
    }
    # The idempotency key makes the second failure of the day a replay that sends nothing.
    key = f"{operator_events.WEBHOOK_FAILING}:{webhook.id}:{since:%Y-%m-%d}"
    _notify(operator_events.WEBHOOK_FAILING, data, key)


def delivery_exhausted(delivery: Delivery, attempt: DeliveryAttempt) -> None:
    """Tell the operator that delivery failed for good at attempt."""
    if not _concerns_a_project(delivery.webhook):
        return
    data = {
        "webhook": _webhook(delivery.webhook),
        "delivery": {
            "id": str(delivery.id),
            "event_id": str(delivery.event_id),
            "event_type": delivery.event.type,
            "attempts": attempt.number,
            "last_status_code": attempt.response_status,
            "last_error": attempt.error_message,
        },
    }
    key = f"{operator_events.DELIVERY_EXHAUSTED}:{delivery.id}:{attempt.number}"
    _notify(operator_events.DELIVERY_EXHAUSTED, data, key)


def on_attempt_recorded(
    sender,
    *,
    delivery: Delivery,
    webhook: Webhook | None,
    attempt: DeliveryAttempt,
    status: str,
    health: dict[str, Any],
    **_kwargs,
) -> None:
    """Send the operator events a recorded attempt calls for (engine/signals.attempt_recorded)."""
    if webhook is None:
        return  # it could not be loaded: nothing to tell about it
    if health.get("is_active") is False:
        since = health.get("failing_since") or webhook.failing_since
        webhook_disabled(webhook, health["disabled_reason"], health["disabled_at"], since)
    elif health.get("failing_since"):
        webhook_failing(webhook, health["failing_since"], attempt)
    # A disabled webhook's leftover deliveries fail without a request: webhook.disabled said it.
    if (
        status == Delivery.Status.FAILED
        and delivery.trigger != Delivery.Trigger.TEST
        and attempt.error_kind != ErrorKind.WEBHOOK_DISABLED
    ):
        delivery_exhausted(delivery, attempt)
