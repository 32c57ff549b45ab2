"""Gauges read at scrape time from PostgreSQL and Redis: backlog, leases, webhook health, stream.

Each query is an index range scan over webhooks_delivery (tests/test_metrics_plans.py checks
the plans on a million rows), and counts stop at METRICS_COUNT_LIMIT, so a scrape stays cheap
however large the table or the backlog.
"""

import logging
import threading
import time
from collections.abc import Iterator

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from webhooks.broker import CONSUMER_GROUP, STREAM
from webhooks.conf import app_settings
from webhooks.engine import lanes
from webhooks.models import Delivery, Webhook

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5  # a scrape must not hang on an unreachable Redis


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _count(queryset, column: str) -> int:
    # COUNT over a LIMIT subquery reads at most METRICS_COUNT_LIMIT index entries; unordered and
    # selecting only an indexed column, it needs no sort and (mostly) no table access.
    limited = queryset.order_by().values(column)[: app_settings.METRICS_COUNT_LIMIT]
    return limited.count()


def due_backlog(now) -> tuple[int, float]:
    """Return (pending deliveries due now, age in seconds of the oldest one)."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    oldest = due.aggregate(oldest=Min("next_attempt_at"))["oldest"]
    return _count(due, "next_attempt_at"), (now - oldest).total_seconds() if oldest else 0.0


def expired_leases(now) -> int:
    """Return deliveries still delivering after their worker lease ended (a worker died)."""
    leases = Delivery.objects.filter(status=Delivery.Status.DELIVERING, locked_until__lt=now)
    return _count(leases, "locked_until")


def _database_metrics() -> Iterator[Metric]:
    now = timezone.now()
    due, oldest_age = due_backlog(now)
    yield _gauge("webhooks_backlog_due_deliveries", "Pending deliveries due now.", due)
    yield _gauge(
        "webhooks_backlog_oldest_due_age_seconds",
        "How long the oldest due pending delivery has waited past its due time.",
        oldest_age,
    )
    yield _gauge(
        "webhooks_expired_leases",
        "Deliveries in delivering whose worker lease has expired.",
        expired_leases(now),
    )
    live = Webhook.objects.filter(deleted_at__isnull=True)
    failing = live.filter(is_active=True, failing_since__isnull=False)
    yield _gauge("webhooks_failing_webhooks", "Active webhooks failing now.", failing.count())
    yield _gauge(
        "webhooks_disabled_webhooks",
        "Webhooks disabled (by a user or automatically), not deleted.",
        live.filter(is_active=False).count(),
    )
    yield _gauge(
        "webhooks_circuit_open_webhooks",
        "Active webhooks whose circuit breaker is open: held to one lane after failures in a row.",
        live.filter(is_active=True, circuit_open_since__isnull=False).count(),
    )
    yield _gauge(
        "webhooks_lanes_saturated",
        "Webhooks whose lanes are all taken (at their max_in_flight).",
        lanes.saturated_webhooks(),
    )
    per_webhook = GaugeMetricFamily(
        "webhooks_webhook_failing_seconds",
        "Seconds since each failing webhook's first failure (the longest-failing ones).",
        labels=["webhook_id", "project_id"],
    )
    rows = failing.order_by("failing_since").values_list("id", "project_id", "failing_since")
    for webhook_id, project_id, since in rows[: app_settings.METRICS_FAILING_WEBHOOK_SERIES]:
        per_webhook.add_metric([str(webhook_id), str(project_id)], (now - since).total_seconds())
    yield per_webhook


_redis_lock = threading.Lock()
_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    with _redis_lock:
        client = _redis_clients.get(settings.REDIS_URL)
        if client is None:
            client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            _redis_clients[settings.REDIS_URL] = client
        return client


def _stream_metrics() -> Iterator[Metric]:
    client = _redis()
    try:
        groups = client.xinfo_groups(STREAM)
        consumers = client.xinfo_consumers(STREAM, CONSUMER_GROUP)
    except redis.ResponseError:  # no stream or group yet: no worker ever started
        groups, consumers = [], []
    group = next((g for g in groups if g["name"].decode() == CONSUMER_GROUP), {})
    yield _gauge(
        "webhooks_stream_lag",
        "Stream messages no worker has read yet.",
        group.get("lag") or 0,
    )
    yield _gauge(
        "webhooks_stream_pending",
        "Stream messages read by a worker and not acknowledged yet.",
        group.get("pending") or 0,
    )
    # A listening worker reads the stream every couple of seconds, which resets its idle time.
    idle_ms = app_settings.METRICS_CONSUMER_IDLE_SECONDS * 1000
    yield _gauge(
        "webhooks_stream_consumers_active",
        "Worker processes that read the stream recently (see METRICS_CONSUMER_IDLE_SECONDS).",
        sum(1 for consumer in consumers if consumer["idle"] < idle_ms),
    )


class ScrapeCollector(Collector):
    """Read the gauges above at each scrape; a source that fails is reported as down."""

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        up = GaugeMetricFamily(
            "webhooks_scrape_source_up",
            "1 if the scrape could read this source (database, redis), else 0.",
            labels=["source"],
        )
        try:
            yield from list(_database_metrics())
            up.add_metric(["database"], 1)
        except DatabaseError as exc:
            logger.warning("metrics: database gauges unavailable: %s", exc)
            up.add_metric(["database"], 0)
        if settings.REDIS_URL:
            try:
                yield from list(_stream_metrics())
                up.add_metric(["redis"], 1)
            except redis.RedisError as exc:
                logger.warning("metrics: stream gauges unavailable: %s", exc)
                up.add_metric(["redis"], 0)
        yield up
        yield _gauge(
            "webhooks_scrape_duration_seconds",
            "Time this scrape spent reading the database and Redis.",
            time.monotonic() - started,
        )
