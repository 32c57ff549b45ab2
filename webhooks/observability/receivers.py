"""Metrics and log context from what the engine announces (engine/signals.py).

Connected in WebhooksConfig.ready(). None of them writes to the database.
"""

from webhooks.models import Delivery
from webhooks.observability import logs, metrics, tracing

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


def trace_attempt_started(sender, *, delivery: Delivery, webhook, **_kwargs) -> None:
    """Open the attempt's span, a child of the emit through the event's stored trace context."""
    event = delivery.event
    tracing.open_span(
        "webhooks.attempt",
        event.trace_context if event is not None else None,
        **{
            "webhooks.delivery_id": str(delivery.id),
            "webhooks.webhook_id": str(delivery.webhook_id),
            "webhooks.event_id": str(delivery.event_id),
            "webhooks.event_type": event.type if event is not None else "",
            "webhooks.attempt": delivery.attempt_count + 1,
            "webhooks.trigger": delivery.trigger,
        },
    )


def trace_attempt_finished(sender, *, record, **_kwargs) -> None:
    """Close the attempt's span with its outcome, status and duration."""
    attempt = record.attempt
    outcome = metrics.outcome_of(attempt.error_kind, attempt.response_status)
    tracing.close_span(
        error=attempt.error_kind or ("" if outcome == metrics.SUCCESS else outcome),
        **{
            "webhooks.outcome": outcome,
            "http.response.status_code": attempt.response_status,
            "webhooks.duration_ms": attempt.duration_ms,
            "webhooks.status": record.state.status,
        },
    )


def trace_sweep_started(sender, **_kwargs) -> None:
    """Open the sweep's span."""
    tracing.open_span("webhooks.sweep", None)


def trace_sweep_finished(sender, *, due: int, woken: int, **_kwargs) -> None:
    """Close the sweep's span with what it found."""
    tracing.close_span(**{"webhooks.due_webhooks": due, "webhooks.woken": woken})
