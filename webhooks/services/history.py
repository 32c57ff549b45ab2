"""Read a webhook's delivery history and health: filtered deliveries and status counts."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, Webhook

STATS_WINDOWS = {"last_24h": timedelta(hours=24), "last_7d": timedelta(days=7)}
# The health chart's buckets per window: (truncation, bucket length, number of buckets).
HEALTH_BUCKETS = {
    "last_24h": (TruncHour, timedelta(hours=1), 24),
    "last_7d": (TruncDay, timedelta(days=1), 7),
}


def deliveries_of(
    webhook: Webhook,
    *,
    statuses: list[str] | None = None,
    event_type: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Delivery]:
    """Return the webhook's deliveries that match the filters, with their events joined."""
    deliveries = Delivery.objects.filter(webhook=webhook).select_related("event")
    if statuses:
        deliveries = deliveries.filter(status__in=statuses)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    if created_after:
        deliveries = deliveries.filter(created_at__gte=created_after)
    if created_before:
        deliveries = deliveries.filter(created_at__lt=created_before)
    return deliveries


def webhook_stats(webhook: Webhook, now: datetime | None = None) -> dict[str, Any]:
    """Return delivery counts by status over the last 24 h and 7 days, and endpoint health."""
    now = now or timezone.now()
    aggregates = {}
    for window, span in STATS_WINDOWS.items():
        recent = Q(created_at__gte=now - span)
        aggregates[f"{window}__total"] = Count("id", filter=recent)
        for status in Delivery.Status.values:
            aggregates[f"{window}__{status}"] = Count("id", filter=recent & Q(status=status))
    # One query; the (webhook, created_at) index bounds it to the last 7 days.
    row = Delivery.objects.filter(
        webhook=webhook, created_at__gte=now - max(STATS_WINDOWS.values())
    ).aggregate(**aggregates)
    counts = {
        window: {
            "total": row[f"{window}__total"],
            **{status: row[f"{window}__{status}"] for status in Delivery.Status.values},
        }
        for window in STATS_WINDOWS
    }
    succeeded = Delivery.objects.filter(webhook=webhook, status=Delivery.Status.SUCCEEDED)
    return {
        **counts,
        "last_success_at": succeeded.aggregate(at=Max("delivered_at"))["at"],
        "failing_since": webhook.failing_since,
        "is_active": webhook.is_active,
        "disabled_reason": webhook.disabled_reason,
    }


def health_series(
    webhook: Webhook, window: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the health chart's buckets of window ("last_24h" by hour, "last_7d" by day).

    Oldest first, each with its start and the attempts started in it: how many got a 2xx
    (succeeded), how many did not (failed: an error status, a timeout, no connection), and
    their mean duration in ms (None without any). Attempts, not finished deliveries: a
    delivery retrying on 500 shows its failures at once.
    """
    trunc, step, count = HEALTH_BUCKETS[window]
    now = now or timezone.now()
    last = _truncate(now, step)
    start = last - step * (count - 1)
    answered = Q(response_status__gte=200, response_status__lt=300)
    rows = (
        DeliveryAttempt.objects.filter(delivery__webhook=webhook, started_at__gte=start)
        .annotate(bucket=trunc("started_at"))
        .values("bucket")
        .annotate(
            attempts=Count("id"),
            succeeded=Count("id", filter=answered),
            mean_ms=Avg("duration_ms"),
        )
        .order_by()
    )
    buckets = {
        start + step * i: {
            "start": start + step * i,
            "succeeded": 0,
            "failed": 0,
            "attempts": 0,
            "mean_ms": None,
        }
        for i in range(count)
    }
    for row in rows:
        bucket = buckets.get(row.pop("bucket"))
        if bucket is not None:
            bucket.update(row, failed=row["attempts"] - row["succeeded"])
    return list(buckets.values())


def _truncate(moment: datetime, step: timedelta) -> datetime:
    # In the current time zone, as TruncHour and TruncDay cut.
    moment = timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if step >= timedelta(days=1) else moment
