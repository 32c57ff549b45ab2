"""Deliver: claim a due delivery, sign and send its event, record the attempt, apply the policy.

Public entry points (the task, the test ping, the cron jobs and the admin all use these):
`deliver(delivery_id, trigger=None)`, `dispatch_due(limit=None)` and
`release_expired_leases(now=None)`.
"""

import logging
import uuid
from datetime import datetime, timedelta
from http import HTTPStatus

from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, Q
from django.utils import timezone

from webhooks import retry, transport, wire
from webhooks.conf import app_settings
from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.observability import hooks
from webhooks.services import pgsql
from webhooks.services.dispatch import dispatch_due, release_expired_leases

logger = logging.getLogger(__name__)

__all__ = ["deliver", "dispatch_due", "release_expired_leases"]

Status = Delivery.Status
Trigger = Delivery.Trigger
ErrorKind = DeliveryAttempt.ErrorKind
_STATUS_OF = {
    retry.SUCCEEDED: Status.SUCCEEDED,
    retry.RETRY: Status.PENDING,
    retry.FAILED: Status.FAILED,
}


def deliver(delivery_id: uuid.UUID | str, trigger: str | None = None) -> DeliveryAttempt | None:
    """Make one attempt of a pending, due delivery; return the recorded attempt.

    Return None when nothing was claimed (a duplicate or early task message, or a row that is
    not pending), so calling it twice is harmless. trigger, if given, is recorded as the
    attempt's trigger instead of the row's. On PostgreSQL two SQL statements: claim-and-load,
    record-and-release (four on SQLite); one more only when the webhook's health changes (first
    failure, recovery, disabling).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=app_settings.LEASE_SECONDS)
    delivery = _claim(delivery_id, now, lease, trigger)
    if delivery is None:
        return None
    hooks.delivery_claimed(delivery)  # HOOK(observability): ids on this attempt's log lines
    started = timezone.now()
    outcome, sent_headers = _send(delivery, started)
    return _finish(delivery, lease, started, outcome, sent_headers)


def _claim(delivery_id, now: datetime, lease: datetime, trigger: str | None) -> Delivery | None:
    """Claim the delivery if pending and due; return it with its event and webhook loaded."""
    # The claim numbers the attempt: each claim gets its own number, so even a worker that
    # outlived its lease records its attempt without colliding with the next one.
    if pgsql.supported():  # performance: one round trip instead of two
        return pgsql.claim(delivery_id, now, lease, trigger)
    changes = {
        "status": Status.DELIVERING,
        "locked_until": lease,
        "queued_until": None,
        "attempt_count": F("attempt_count") + 1,
    }
    if trigger:
        changes["trigger"] = trigger
    due = Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True)
    claimed = Delivery.objects.filter(due, pk=delivery_id, status=Status.PENDING).update(
        **changes, updated_at=now
    )
    if not claimed:
        return None
    # None if retention deleted it between the claim and the load.
    return Delivery.objects.select_related("event", "webhook").filter(pk=delivery_id).first()


def _send(delivery: Delivery, now: datetime) -> tuple[transport.DeliveryOutcome, dict[str, str]]:
    webhook, event = delivery.webhook, delivery.event
    # A test ping may check a disabled endpoint before it is enabled again; nothing else may.
    if webhook.deleted_at or (not webhook.is_active and delivery.trigger != Trigger.TEST):
        reason = (
            "the webhook was deleted"
            if webhook.deleted_at
            else f"the webhook is disabled ({webhook.disabled_reason or 'by a user'})"
        )
        return transport.DeliveryOutcome(
            error_kind=ErrorKind.WEBHOOK_DISABLED, error_message=reason
        ), {}
    headers = wire.request_headers(
        delivery_id=str(delivery.id),
        event_type=event.type,
        body=event.body,
        secrets=webhook.signing_secrets(now),
        custom=webhook.headers,
    )
    outcome = transport.send(webhook.url, headers, event.body.encode())
    return outcome, wire.redacted(headers)


def _finish(
    delivery: Delivery,
    lease: datetime,
    started: datetime,
    outcome: transport.DeliveryOutcome,
    sent_headers: dict[str, str],
) -> DeliveryAttempt:
    now = timezone.now()
    number = delivery.attempt_count
    decision = retry.decide(
        status_code=outcome.status_code,
        error_kind=outcome.error_kind,
        retry_after=outcome.headers.get("retry-after"),
        attempt_number=number,
        automatic=delivery.trigger == Trigger.AUTO,
        now=now,
        schedule=app_settings.RETRY_SCHEDULE_SECONDS,
        jitter_ratio=app_settings.RETRY_JITTER_RATIO,
    )
    succeeded = decision.result == retry.SUCCEEDED
    error_kind = outcome.error_kind or ("" if succeeded else ErrorKind.HTTP_STATUS)
    error_message = outcome.error_message or ("" if succeeded else _status_text(outcome))
    attempt = DeliveryAttempt(
        delivery=delivery,
        number=number,
        trigger=delivery.trigger,
        started_at=started,
        duration_ms=outcome.duration_ms,
        request_url=delivery.webhook.url,
        request_headers=sent_headers,
        response_status=outcome.status_code,
        response_headers=outcome.headers,
        response_body=outcome.body,
        error_kind=error_kind,
        error_message=error_message,
    )
    changes = {
        "status": _STATUS_OF[decision.result],
        "next_attempt_at": decision.next_attempt_at,
        "locked_until": None,
        "queued_until": None,
        "trigger": Trigger.AUTO,
        "last_status_code": outcome.status_code,
        "last_error": error_message,
        "delivered_at": now if succeeded else delivery.delivered_at,
        "updated_at": now,
    }
    # The release is guarded by our lease: a worker whose lease expired must not overwrite a
    # newer state (its attempt is still recorded).
    if pgsql.supported():  # performance: one round trip instead of two
        released = _on_fresh_connection_if_lost(pgsql.record_and_release, attempt, lease, changes)
    else:
        _on_fresh_connection_if_lost(attempt.save, force_insert=True)
        released = _on_fresh_connection_if_lost(
            Delivery.objects.filter(
                pk=delivery.pk, status=Status.DELIVERING, locked_until=lease
            ).update,
            **changes,
        )
    health = {}
    if not released:
        logger.warning("delivery %s: lease expired during attempt %d", delivery.pk, number)
    elif outcome.error_kind != ErrorKind.WEBHOOK_DISABLED:
        health = _record_health(delivery.webhook, decision, now)
    # HOOK(observability): metrics, log outcome and operator events of the recorded attempt.
    hooks.attempt_finished(delivery, attempt, decision.result, health)
    _log(delivery, number, decision, error_message)
    return attempt


def _on_fresh_connection_if_lost(write, *args, **kwargs):
    """Run write; if the connection died during the request, run it once more on a new one.

    A database restart or failover while a request is in flight would otherwise lose the
    record, and the delivery would be sent again after its lease.
    """
    try:
        return write(*args, **kwargs)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("database connection lost; writing the delivery outcome again")
        connection.close()
        return write(*args, **kwargs)


def _record_health(webhook: Webhook, decision: retry.Decision, now: datetime) -> dict:
    """Clear failing_since on success, set it on a first failure, disable when due.

    Return the failing or disabling changes written ({} when none).
    """
    if decision.result == retry.SUCCEEDED:
        if webhook.failing_since is not None:
            Webhook.objects.filter(pk=webhook.pk).update(failing_since=None, updated_at=now)
        return {}
    changes = {} if webhook.failing_since else {"failing_since": now}
    reason = decision.disable_reason or _auto_disable_reason(webhook, decision, now)
    if reason:
        changes |= {"is_active": False, "disabled_reason": reason, "disabled_at": now}
        logger.warning("webhook %s disabled: %s", webhook.pk, reason)
    if changes:
        # Conditional, so concurrent attempts keep the earliest failing_since.
        rows = Webhook.objects.filter(pk=webhook.pk)
        rows = rows.filter(is_active=True) if reason else rows.filter(failing_since__isnull=True)
        if rows.update(**changes, updated_at=now):
            return changes
    return {}


def _auto_disable_reason(webhook: Webhook, decision: retry.Decision, now: datetime) -> str:
    days = app_settings.DISABLE_AFTER_FAILING_DAYS
    since = webhook.failing_since
    if not decision.exhausted or since is None or since > now - timedelta(days=days):
        return ""
    return f"no successful delivery for {days} days (failing since {since:%Y-%m-%d %H:%M} UTC)"


def _status_text(outcome: transport.DeliveryOutcome) -> str:
    code = outcome.status_code
    try:
        text = f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        text = f"HTTP {code}"
    if 300 <= code < 400:
        text += " (redirects are not followed)"
    return text


def _log(delivery: Delivery, number: int, decision: retry.Decision, error: str) -> None:
    if decision.result == retry.FAILED:
        logger.info("delivery %s failed at attempt %d: %s", delivery.pk, number, error)
    else:
        logger.debug("delivery %s attempt %d: %s", delivery.pk, number, decision.result)
