"""The sweep: end expired leases, then wake every webhook with due work.

The scheduler process runs it every DISPATCH_INTERVAL_SECONDS itself (manage.py
webhooks_scheduler), so no backlog in the queue ever delays it; cron's retry-stuck runs it too.
Safe in several processes at once. Times are the database's.
"""

import logging
import time

from django.db.models import Case, CharField, F, Q, TextField, Value, When
from django.db.models.functions import Now

from webhooks.conf import app_settings
from webhooks.engine import signals, wakeups
from webhooks.models import Delivery

logger = logging.getLogger(__name__)

Status = Delivery.Status


def release_expired_leases() -> int:
    """Return deliveries whose worker lease expired to pending, due now; return how many ended.

    A delivery whose lease has now expired MAX_LEASE_EXPIRIES times with no attempt recorded
    (a worker killed on it again and again) fails instead, with that reason. The lease value is
    kept: a slow worker that outlived it still records its outcome if nobody claimed since.
    """
    limit = app_settings.MAX_LEASE_EXPIRIES
    give_up = Q(lease_expiries__gte=limit - 1)
    reason = (
        f"its lease expired {limit} times with no attempt recorded "
        "(the worker stopped during each attempt)"
    )
    ended = Delivery.objects.filter(status=Status.DELIVERING, locked_until__lt=Now()).update(
        lease_expiries=F("lease_expiries") + 1,
        status=Case(
            When(give_up, then=Value(Status.FAILED)),
            default=Value(Status.PENDING),
            output_field=CharField(),
        ),
        next_attempt_at=Case(When(give_up, then=None), default=Now()),
        last_error=Case(
            When(give_up, then=Value(reason)), default=F("last_error"), output_field=TextField()
        ),
        updated_at=Now(),
    )
    if ended:
        logger.warning("%d deliveries had an expired worker lease", ended)
    return ended


def due_webhooks(limit: int) -> list:
    """Return up to limit webhooks that have a pending delivery due now."""
    due = Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=Now())
    return list(due.order_by().values_list("webhook_id", flat=True).distinct()[:limit])


def dispatch_due(limit: int | None = None) -> int:
    """End expired leases, then wake up to limit webhooks with due work; return how many."""
    signals.sweep_started.send(None)
    release_expired_leases()
    webhook_ids = due_webhooks(limit or app_settings.DISPATCH_BATCH_SIZE)
    woken = wakeups.wake(webhook_ids) if webhook_ids else 0
    signals.sweep_finished.send(None, at=time.time(), due=len(webhook_ids), woken=woken)
    logger.debug("sweep: %d webhooks with due work, %d woken", len(webhook_ids), woken)
    return len(webhook_ids)
