"""SQL counted: queries per emit (1 and 50 webhooks) and per delivery attempt, by outcome."""

import uuid

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.bench.harness import DATA, EVENT_TYPE, Bench
from tests.bench.report import Row
from webhooks.engine.lanes import deliver
from webhooks.events import render_envelope
from webhooks.models import Delivery, Event, Webhook

MAX_QUERIES_PER_ATTEMPT = 4


def _queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


def emit_queries(project_id: uuid.UUID) -> int:
    """Return the SQL queries of one POST to the emit endpoint (auth, view, service)."""
    from django.conf import settings

    client = Client(SERVER_NAME="127.0.0.1")
    url = f"/api/projects/{project_id}/events"
    body = {"type": EVENT_TYPE, "data": DATA}
    auth = {"HTTP_AUTHORIZATION": f"Access {settings.WEBHOOKS_AUTH_KEY}"}

    def post():
        response = client.post(url, body, content_type="application/json", **auth)
        assert response.status_code == 202, response.content

    return _queries(post)


def _parked_delivery(webhook: Webhook) -> Delivery:
    """Store a delivery no lane will claim (no due time): the harness sends it by its id."""
    event = Event(project_id=webhook.project_id, type=EVENT_TYPE)
    event.body = render_envelope(event.id, EVENT_TYPE, webhook.project_id, timezone.now(), DATA)
    event.save(force_insert=True)
    return Delivery.objects.create(event=event, webhook=webhook, next_attempt_at=None)


def attempt_queries(bench: Bench) -> dict[str, int]:
    """Return the queries of an attempt for each outcome that costs differently."""
    project = bench.project(1, path="/sql")
    webhook = Webhook.objects.get(project_id=project)
    counts = {}
    bench.receiver.reset()
    fresh = _parked_delivery(webhook)
    counts["success"] = _queries(lambda: deliver(fresh.id))
    bench.receiver.reset(fail_first=True)
    failing = _parked_delivery(webhook)
    counts["first failure (webhook becomes failing)"] = _queries(lambda: deliver(failing.id))
    retried = _parked_delivery(webhook)
    counts["failure, retry scheduled"] = _queries(lambda: deliver(retried.id))
    Delivery.objects.filter(pk=retried.pk).update(next_attempt_at=None)
    counts["success after failures (webhook recovers)"] = _queries(lambda: deliver(retried.id))
    counts["duplicate message (nothing claimed)"] = _queries(lambda: deliver(retried.id))
    # The failed one waits for a retry that would reach the receiver during a later scenario.
    Delivery.objects.filter(webhook=webhook).delete()
    return counts


def scenarios(bench: Bench) -> list[Row]:
    """Count the queries of emits and attempts in this process, on the bench database."""
    one, fifty = bench.project(1, path="/sql-emit"), bench.project(50, path="/sql-emit")
    emit_queries(one)  # warm-up: the first request of a process loads more
    per_one, per_fifty = emit_queries(one), emit_queries(fifty)
    rows = [
        Row(
            "SQL",
            "queries per emit, 1 / 50 webhooks",
            f"{per_one} / {per_fifty}",
            "constant",
            per_one == per_fifty,
        )
    ]
    for outcome, count in attempt_queries(bench).items():
        rows.append(
            Row(
                "SQL",
                f"queries per attempt: {outcome}",
                str(count),
                f"<= {MAX_QUERIES_PER_ATTEMPT}",
                count <= MAX_QUERIES_PER_ATTEMPT,
            )
        )
    return rows
