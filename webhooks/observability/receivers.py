"""Metrics and log context from what the engine announces (engine/signals.py).

Connected in WebhooksConfig.ready(). None of them writes to the database.
"""

from webhooks.models import Delivery
from webhooks.observability import logs, metrics

_FINAL = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)


def bind_attempt(sender, *, delivery: Delivery, webhook, **_kwargs) -> None:
    """Put the delivery's ids and attempt number on the log lines that follow."""
    logs.bind(
        delivery_id=delivery.id,
        webhook_id=delivery.webhook_id,
        project_id=webhook.project_id if webhook is not None else None,
        event_id=delivery.event_id,
        attempt=delivery.attempt_count + 1,
    )


def count_attempt(sender, *, delivery: Delivery, attempt, status: str, **_kwargs) -> None:
    """Count a recorded attempt and its outcome, and put the outcome on the log lines."""
    outcome = metrics.outcome_of(attempt.error_kind, attempt.response_status)
    logs.bind(outcome=outcome)
    metrics.attempt_recorded(outcome, attempt.trigger, attempt.duration_ms / 1000)
    if attempt.number == 1 and attempt.trigger == Delivery.Trigger.AUTO:
        metrics.first_attempt_latency((attempt.started_at - delivery.created_at).total_seconds())
    if status in _FINAL:
        metrics.delivery_finished(status)


def count_sweep(sender, *, at: float, **_kwargs) -> None:
    """Record when the last sweep completed."""
    metrics.sweep_completed(at)
