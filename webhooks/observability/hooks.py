"""What the delivery engine reports, in two calls: an attempt starts, a batch was recorded.

The engine calls these (webhooks/engine/sender.py and lanes.py); they record metrics, put the
ids on the log lines, and send operator events. None of them writes the delivery itself.
"""

from typing import Any

from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.observability import logs, metrics
from webhooks.services import operator

_FINAL = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)


def attempt_started(delivery: Delivery, webhook: Webhook | None) -> None:
    """Put the delivery's ids and attempt number on the log lines that follow."""
    logs.bind(
        delivery_id=delivery.id,
        webhook_id=delivery.webhook_id,
        project_id=webhook.project_id if webhook is not None else None,
        event_id=delivery.event_id,
        attempt=delivery.attempt_count + 1,
    )


def attempt_finished(
    delivery: Delivery,
    webhook: Webhook | None,
    attempt: DeliveryAttempt,
    status: str,
    health: dict[str, Any],
) -> None:
    """Report a recorded attempt: metrics, log outcome, operator events.

    status is the delivery's new status; health holds the changes written to the webhook
    because of this attempt ({} if none): failing_since when it started failing,
    is_active=False with disabled_reason and disabled_at when it was disabled.
    """
    outcome = metrics.outcome_of(attempt.error_kind, attempt.response_status)
    logs.bind(outcome=outcome)
    metrics.attempt_recorded(outcome, attempt.trigger, attempt.duration_ms / 1000)
    if attempt.number == 1 and attempt.trigger == Delivery.Trigger.AUTO:
        metrics.first_attempt_latency((attempt.started_at - delivery.created_at).total_seconds())
    if status in _FINAL:
        metrics.delivery_finished(status)
    if webhook is None:
        return  # it could not be loaded: nothing to tell about it
    if health.get("is_active") is False:
        since = health.get("failing_since") or webhook.failing_since
        operator.webhook_disabled(webhook, health["disabled_reason"], health["disabled_at"], since)
    elif health.get("failing_since"):
        operator.webhook_failing(webhook, health["failing_since"], attempt)
    # A disabled webhook's leftover deliveries fail without a request: webhook.disabled said it.
    not_sent = attempt.error_kind == DeliveryAttempt.ErrorKind.WEBHOOK_DISABLED
    if (
        status == Delivery.Status.FAILED
        and attempt.trigger != Delivery.Trigger.TEST
        and not not_sent
    ):
        operator.delivery_exhausted(delivery, attempt)
