"""The sweep: return expired worker leases, then kick due pending deliveries once each."""

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.models import Delivery
from webhooks.observability import metrics
from webhooks.services import queue

logger = logging.getLogger(__name__)

Status = Delivery.Status


def release_expired_leases(now: datetime | None = None) -> int:
    """Return deliveries whose worker lease expired (the worker died) to pending, due now."""
    now = now or timezone.now()
    released = Delivery.objects.filter(status=Status.DELIVERING, locked_until__lt=now).update(
        status=Status.PENDING,
        locked_until=None,
        queued_until=None,
        next_attempt_at=now,
        updated_at=now,
    )
    if released:
        logger.warning("returned %d deliveries with an expired worker lease to pending", released)
    return released


def dispatch_due(limit: int | None = None) -> int:
    """Release expired leases, then kick up to limit due deliveries; return how many were kicked.

    Each kicked row holds a dispatch lease (queued_until) for DISPATCH_LEASE_SECONDS, so sweeps
    running every few seconds don't queue it again while it waits in the queue. Safe to run in
    several processes at once: rows are picked with FOR UPDATE SKIP LOCKED.
    """
    now = timezone.now()
    release_expired_leases(now)
    ids = _reserve_due(now, limit or app_settings.DISPATCH_BATCH_SIZE)
    metrics.sweep_completed(time.time())  # HOOK(observability): the "last sweep" gauge
    if not ids:
        return 0
    kicked = queue.kick_deliveries(ids)
    logger.debug("dispatch kicked %d of %d due deliveries", kicked, len(ids))
    return kicked


def _reserve_due(now: datetime, limit: int) -> list:
    due = Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True)
    not_queued = Q(queued_until__isnull=True) | Q(queued_until__lte=now)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(due, not_queued, status=Status.PENDING)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            lease = now + timedelta(seconds=app_settings.DISPATCH_LEASE_SECONDS)
            Delivery.objects.filter(id__in=ids).update(queued_until=lease)
    return ids
