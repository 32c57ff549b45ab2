"""Test pings per webhook: a token bucket kept in the database, shared by every process.

The bucket is one time per webhook (GCRA): a ping is allowed unless the bucket's theoretical
arrival time lies more than (burst - 1) intervals ahead; each ping moves it one interval on.
PostgreSQL and SQLite (the embedded mode, which has no Redis) run it alike.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.models import PingThrottle, Webhook


def take_test_ping(webhook: Webhook, now: datetime | None = None) -> float:
    """Take one test ping from webhook's bucket; return 0, or the seconds until one is allowed."""
    now = now or timezone.now()
    interval = timedelta(seconds=1 / app_settings.TEST_PING_RATE_PER_SECOND)
    tolerance = interval * (app_settings.TEST_PING_BURST - 1)
    with transaction.atomic():
        PingThrottle.objects.get_or_create(webhook=webhook, defaults={"theoretical_arrival": now})
        bucket = PingThrottle.objects.select_for_update().get(webhook=webhook)
        arrival = max(bucket.theoretical_arrival, now)
        if arrival - now > tolerance:
            return (arrival - now - tolerance).total_seconds()
        bucket.theoretical_arrival = arrival + interval
        bucket.save(update_fields=["theoretical_arrival"])
    return 0.0
