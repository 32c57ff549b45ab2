"""Operator jobs shared by the cron commands and /api/admin/: retry-stuck (cleanup: retention)."""

import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.engine.sweep import dispatch_due, release_expired_leases
from webhooks.models import Delivery

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
        next_attempt_at=Now(),
        updated_at=now,
    )
    result.woken = dispatch_due(MAX_WAKES)
    return result
