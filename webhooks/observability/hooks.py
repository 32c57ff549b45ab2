"""What the delivery path reports, in two calls: a delivery was claimed, an attempt was recorded.

The engine calls these at lines marked `# HOOK(observability)`; they record metrics, put the
ids on the log lines, and send operator events. None of them writes the delivery itself.
"""

from typing import Any

from webhooks import retry
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.observability import logs, metrics
from webhooks.services import operator

_FINAL_STATUS = {retry.SUCCEEDED: Delivery.Status.SUCCEEDED, retry.FAILED: Delivery.Status.FAILED}


def delivery_claimed(delivery: Delivery) -> None:
    """Put the claimed delivery's ids and attempt number on the log lines that follow."""
    logs.bind(
        delivery_id=delivery.id,
        webhook_id=delivery.webhook_id,
        project_id=delivery.webhook.project_id,
        event_id=delivery.event_id,
        attempt=delivery.attempt_count,
    )


def attempt_finished(
    delivery: Delivery, attempt: DeliveryAttempt, result: str, health: dict[str, Any]
) -> None:
    """Report a recorded attempt: metrics, log outcome, operator events.

    result is the retry decision (retry.SUCCEEDED, RETRY or FAILED); health holds the changes
    written to the webhook because of this attempt ({} if none): failing_since when it started
    failing, is_active=False with disabled_reason and disabled_at when it was disabled.
    """
    outcome = metrics.outcome_of(attempt.error_kind, attempt.response_status)
    logs.bind(outcome=outcome)
    metrics.attempt_recorded(outcome, attempt.trigger, attempt.duration_ms / 1000)
    if attempt.number == 1 and attempt.trigger == Delivery.Trigger.AUTO:
        metrics.first_attempt_latency((attempt.started_at - delivery.created_at).total_seconds())
    if result in _FINAL_STATUS:
        metrics.delivery_finished(_FINAL_STATUS[result])
    webhook = delivery.webhook
    if health.get("is_active") is False:
        since = health.get("failing_since") or webhook.failing_since
        operator.webhook_disabled(webhook, health["disabled_reason"], health["disabled_at"], since)
    elif health.get("failing_since"):
        operator.webhook_failing(webhook, health["failing_since"], attempt)
    # A disabled webhook's leftover deliveries fail without a request: webhook.disabled said it.
    not_sent = attempt.error_kind == DeliveryAttempt.ErrorKind.WEBHOOK_DISABLED
    if result == retry.FAILED and attempt.trigger != Delivery.Trigger.TEST and not not_sent:
        operator.delivery_exhausted(delivery, attempt)
