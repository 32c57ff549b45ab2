"""Operator jobs shared by the cron commands and /api/admin/: retention cleanup and retry-stuck."""

import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.engine.sweep import dispatch_due, release_expired_leases
from webhooks.models import Delivery, DeliveryAttempt, Event

DEFAULT_BATCH_SIZE = 5000
MAX_WAKES = 100_000  # webhooks with due work woken per retry-stuck run
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Return the timedelta of '90', '90s', '15m', '1h' or '2d'; raise ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ValueError("expected a positive duration such as 90s, 15m, 1h or 2d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass
class CleanupResult:
    """What a cleanup removed (or, in a dry run, would remove)."""

    days: int
    cutoff: str
    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    batches: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"webhooks_cleanup: {verb} {self.deliveries} deliveries, {self.attempts} attempts "
            f"and {self.events} events older than {self.days} days (before {self.cutoff}) "
            f"in {self.batches} batches"
        )


def cleanup(
    days: int, batch_size: int = DEFAULT_BATCH_SIZE, dry_run: bool = False
) -> CleanupResult:
    """Delete deliveries (with attempts) older than days, then the events they leave behind."""
    if days < 1 or batch_size < 1:
        raise ValueError("days and batch_size must be positive")
    cutoff = timezone.now() - timedelta(days=days)
    result = CleanupResult(days=days, cutoff=cutoff.isoformat(), dry_run=dry_run)
    old_deliveries = Delivery.objects.filter(created_at__lt=cutoff)
    # Events created before the cutoff that keep no delivery once the old ones are gone.
    orphans = Event.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__created_at__gte=cutoff
    )
    if dry_run:
        result.deliveries = old_deliveries.count()
        result.attempts = DeliveryAttempt.objects.filter(delivery__created_at__lt=cutoff).count()
        result.events = orphans.count()
        return result
    while ids := _next_ids(old_deliveries, batch_size):
        # One short transaction per batch: rows are locked only while their batch is deleted.
        with transaction.atomic():
            _, deleted = Delivery.objects.filter(id__in=ids).delete()
        result.deliveries += deleted.get(Delivery._meta.label, 0)
        result.attempts += deleted.get(DeliveryAttempt._meta.label, 0)
        result.batches += 1
    # Only events without any delivery now; a delivery created meanwhile keeps its event.
    orphans = Event.objects.filter(created_at__lt=cutoff, deliveries__isnull=True)
    while ids := _next_ids(orphans, batch_size):
        with transaction.atomic():
            _, deleted = Event.objects.filter(id__in=ids, deliveries__isnull=True).delete()
        result.events += deleted.get(Event._meta.label, 0)
        result.batches += 1
    return result


def _next_ids(queryset, batch_size: int) -> list:
    return list(queryset.order_by("id").values_list("id", flat=True)[:batch_size])


@dataclass
class RetryStuckResult:
    """What a retry-stuck run recovered and woke."""

    stuck_after_seconds: int
    expired_leases: int = 0
    stuck: int = 0
    woken: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"webhooks_retry_stuck: {self.expired_leases} expired leases and {self.stuck} "
            f"deliveries stuck over {self.stuck_after_seconds}s returned to pending; "
            f"{self.woken} webhooks with due deliveries woken"
        )


def retry_stuck(stuck_after: timedelta | None = None) -> RetryStuckResult:
    """Return stuck deliveries to pending and wake every webhook with due work.

    The safety net of the scheduler's sweep. Stuck: delivering past the worker lease (its
    worker died), or delivering for longer than stuck_after whatever the lease says.
    """
    stuck_after = stuck_after or timedelta(seconds=app_settings.STUCK_AFTER_SECONDS)
    now = timezone.now()
    result = RetryStuckResult(stuck_after_seconds=int(stuck_after.total_seconds()))
    result.expired_leases = release_expired_leases()
    too_long = Q(locked_until__isnull=True) | Q(updated_at__lt=now - stuck_after)
    result.stuck = Delivery.objects.filter(too_long, status=Delivery.Status.DELIVERING).update(
        status=Delivery.Status.PENDING,
        next_attempt_at=now,
        updated_at=now,
    )
    result.woken = dispatch_due(MAX_WAKES)
    return result
