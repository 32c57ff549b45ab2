"""The scrape stays cheap on a large table: its queries use indexes and it takes under 50 ms.

A million deliveries (METRICS_PLAN_ROWS to change it) are written by SQL into the test database
once for this module, with a realistic mix: mostly succeeded, some failed, retries scheduled, a
small due backlog, a few in flight, some of those with an expired lease.
"""

import json
import os
import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import EventFactory, WebhookFactory
from webhooks.models import Delivery, Event, Webhook
from webhooks.observability import exporter

ROWS = int(os.environ.get("METRICS_PLAN_ROWS", "1000000"))
WEBHOOKS = 1000
SCRAPE_BUDGET_SECONDS = 0.050

# Statuses by k = (event number + webhook number) mod 1000, which takes each value once per event:
# per thousand, 20 failed, 15 retries due in 10 minutes, 3 due now, 1 expired lease, 1 in flight.
FILL_SQL = """
INSERT INTO webhooks_delivery (id, event_id, webhook_id, status, "trigger", attempt_count,
    next_attempt_at, locked_until, lease_expiries, last_status_code, last_error, created_at,
    updated_at, delivered_at)
SELECT lpad(to_hex(e.n * 1000 + w.m), 32, '0')::uuid, e.id, w.id,  -- ordered ids: fast inserts
    CASE WHEN k < 20 THEN 'failed' WHEN k < 35 THEN 'pending' WHEN k < 38 THEN 'pending'
         WHEN k < 40 THEN 'delivering' ELSE 'succeeded' END,
    'auto', 1,
    CASE WHEN k BETWEEN 20 AND 34 THEN now() + interval '10 minutes'
         WHEN k BETWEEN 35 AND 37 THEN now() - interval '5 seconds' END,
    CASE WHEN k = 38 THEN now() - interval '1 minute'
         WHEN k = 39 THEN now() + interval '1 hour' END,
    0, 200, '', now() - interval '1 day', now(), NULL
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM webhooks_event) e
CROSS JOIN (SELECT id, row_number() OVER (ORDER BY id) AS m FROM webhooks_webhook) w
CROSS JOIN LATERAL (SELECT (e.n + w.m) % 1000 AS k) s
"""


@pytest.fixture(scope="module")
def million(django_db_setup, django_db_blocker):
    """Fill the test database's tables once; empty them afterwards for the other modules."""
    with django_db_blocker.unblock():
        webhooks = [WebhookFactory.build() for _ in range(WEBHOOKS)]
        Webhook.objects.bulk_create(webhooks)
        Event.objects.bulk_create([EventFactory.build() for _ in range(ROWS // WEBHOOKS)])
        with connection.cursor() as cursor:
            # Speed only: skip the per-row foreign key triggers (the rows are built from the
            # tables they point to). Needs a superuser, as the test database's owner is here.
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(FILL_SQL)
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("ANALYZE webhooks_delivery")
            cursor.execute("ANALYZE webhooks_webhook")
        yield Delivery.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE webhooks_delivery, webhooks_event, webhooks_webhook CASCADE")


def _scans(plan: dict) -> list[tuple[str, str]]:
    """Return (node type, relation) for every scan node of an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if "Relation Name" in plan:
        found.append((plan["Node Type"], plan["Relation Name"]))
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.mark.django_db
def test_the_scrape_reads_only_index_ranges_of_a_million_deliveries(million):
    assert million == ROWS
    with CaptureQueriesContext(connection) as captured:
        text = exporter.render().decode()
    lines = set(text.splitlines())
    assert f"webhooks_backlog_due_deliveries {3 * ROWS // WEBHOOKS}.0" in lines
    assert f"webhooks_expired_leases {ROWS // WEBHOOKS}.0" in lines, text
    delivery_queries = [q["sql"] for q in captured if "webhooks_delivery" in q["sql"]]
    assert len(delivery_queries) == 3  # due count, oldest due, expired leases
    with connection.cursor() as cursor:
        for sql in delivery_queries:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            explained = cursor.fetchone()[0]
            (plan,) = json.loads(explained) if isinstance(explained, str) else explained
            scans = _scans(plan["Plan"])
            on_deliveries = [node for node, relation in scans if relation == "webhooks_delivery"]
            assert on_deliveries, sql
            assert "Seq Scan" not in on_deliveries, (sql, scans)
            assert all(node.startswith(("Index", "Bitmap")) for node in on_deliveries), scans


@pytest.mark.django_db
def test_a_scrape_of_a_million_deliveries_takes_under_50_ms(million):
    exporter.render()  # warm: connection, Redis client, prepared imports
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        exporter.render()
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(
        f"scrape of {million} deliveries: median {median * 1000:.1f} ms, "
        f"min {min(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    assert median < SCRAPE_BUDGET_SECONDS
