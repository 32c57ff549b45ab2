"""The sweep: end expired leases and those of silent workers, then wake webhooks with due work.

The scheduler process runs it (engine/ticker.py) every DISPATCH_INTERVAL_SECONDS, and checks
for silent workers every WORKER_HEARTBEAT_SECONDS; cron's retry-stuck runs it too. Safe in
several processes at once. Fair: it wakes the webhooks it woke least recently first, at most
DISPATCH_BATCH_SIZE a run, so every due webhook is woken within ceil(due / batch size) runs;
its cost grows with the number of webhooks probed, never with the number of due deliveries.
Times are the database's.
"""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Now

from webhooks.conf import app_settings
from webhooks.engine import signals, wakeups
from webhooks.models import Delivery, Lane, ProjectSlot, Webhook, Worker

logger = logging.getLogger(__name__)

Status = Delivery.Status


def release_expired_leases() -> int:
    """Return deliveries whose worker lease expired to pending, due now; return how many ended."""
    return _end_leases(Q(locked_until__lt=Now()))


def _end_leases(which: Q) -> int:
    """End the leases of these delivering deliveries: pending, due now; return how many.

    A delivery whose lease has now ended MAX_LEASE_EXPIRIES times with no attempt recorded
    (a worker killed on it again and again) fails instead, with that reason. The lease value is
    kept: a slow worker that outlived it still records its outcome if nobody claimed since.
    """
    limit = app_settings.MAX_LEASE_EXPIRIES
    give_up = Q(lease_expiries__gte=limit - 1)
    reason = (
        f"its lease expired {limit} times with no attempt recorded "
        "(the worker stopped during each attempt)"
    )
    ended = Delivery.objects.filter(which, status=Status.DELIVERING).update(
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
        logger.warning("%d deliveries had an ended worker lease", ended)
    return ended


def end_silent_workers() -> int:
    """End the leases held by workers silent over WORKER_SILENT_SECONDS; return how many ended.

    Their deliveries become pending, due now, and their lanes free; the rows of those workers
    are deleted (a worker that was only stalled writes its row again with its next beat).
    """
    silent_since = ExpressionWrapper(
        Now() - timedelta(seconds=app_settings.WORKER_SILENT_SECONDS), output_field=DateTimeField()
    )
    silent = list(Worker.objects.filter(beat_at__lt=silent_since).values_list("id", flat=True))
    if not silent:
        return 0
    with transaction.atomic():
        ended = _end_leases(Q(locked_by__in=silent))
        held = Lane.objects.filter(held_by__in=silent, expires_at__gt=Now())
        # A project slot is held with its lane's token: it frees with the lane.
        ProjectSlot.objects.filter(token__in=list(held.values_list("token", flat=True))).update(
            expires_at=Now()
        )
        lanes = held.update(expires_at=Now())
        Worker.objects.filter(id__in=silent, beat_at__lt=silent_since).delete()
    # A worker stopped by SIGTERM held nothing by then: only a death that left work matters.
    log = logger.warning if ended or lanes else logger.info
    log(
        "%d workers fell silent: %d deliveries and %d lanes they held are free again",
        len(silent),
        ended,
        lanes,
    )
    return len(silent)


def due_webhooks(limit: int) -> list:
    """Return up to limit webhooks with a pending delivery due now, least recently swept first.

    Each is probed by the (webhook, due time) index of pending deliveries, in the order of the
    swept_at index, and the scan stops at limit: a backlog of due deliveries costs nothing more.
    """
    due = Delivery.objects.filter(
        webhook=OuterRef("pk"), status=Status.PENDING, next_attempt_at__lte=Now()
    )
    webhooks = Webhook.objects.filter(Exists(due)).order_by("swept_at")
    return list(webhooks.values_list("id", flat=True)[:limit])


def dispatch_due(limit: int | None = None, force: bool = False) -> int:
    """End expired leases, then wake up to limit webhooks with due work; return how many.

    force: wake them even if a wake-up for them waits in the queue (after a worker died, its
    unread wake-ups are gone, while their keys still hold back new ones).
    """
    signals.sweep_started.send(None)
    release_expired_leases()
    webhook_ids = due_webhooks(limit or app_settings.DISPATCH_BATCH_SIZE)
    woken = 0
    if webhook_ids:
        Webhook.objects.filter(id__in=webhook_ids).update(swept_at=Now())
        woken = wakeups.wake(webhook_ids, force=force)
    signals.sweep_finished.send(None, at=time.time(), due=len(webhook_ids), woken=woken)
    logger.debug("sweep: %d webhooks with due work, %d woken", len(webhook_ids), woken)
    return len(webhook_ids)
