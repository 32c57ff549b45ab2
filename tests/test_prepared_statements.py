"""The engine's statements are prepared on their connection, so PostgreSQL plans each once and
not at every lone delivery; WEBHOOKS["PREPARED_STATEMENTS"] = False (a pooler that can't keep
them) sends them unprepared. A lone delivery is three statements and no health check."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.engine import lanes
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

LONE_DELIVERIES = 8


def prepared() -> dict[str, int]:
    """Return this connection's prepared statements: their text -> how often they were planned
    or run from a plan (generic plans count once per execution)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def lone_deliveries(hook, count: int) -> None:
    """Deliver count deliveries of hook one at a time, each in a lane of its own."""
    for _ in range(count):
        delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
        assert lanes.run_lane(hook.id) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempt_count) == (Delivery.Status.SUCCEEDED, 1)


def test_a_lone_deliverys_statements_are_prepared_and_reused(receiver):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)  # the first wake-up makes the lane slots

    lone_deliveries(hook, LONE_DELIVERIES)

    engine = {text: runs for text, runs in prepared().items() if "webhooks_delivery" in text}
    # taking the lane with the claim, the record, the claim that gives the lane back
    assert len([runs for runs in engine.values() if runs >= LONE_DELIVERIES]) >= 3, engine
    assert len(receiver.requests) == LONE_DELIVERIES


def test_with_the_setting_off_nothing_is_prepared(receiver, webhooks_settings):
    webhooks_settings(PREPARED_STATEMENTS=False)
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    before = prepared()

    lone_deliveries(hook, 3)

    assert prepared() == before  # none added, none run again
    assert len(receiver.requests) == 3


def test_a_lone_delivery_is_three_statements(receiver):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))

    with CaptureQueriesContext(connection) as captured:
        assert lanes.run_lane(hook.id) == 1

    # take the lane and claim; record; find nothing more and give the lane back
    assert len(captured.captured_queries) == 3, [q["sql"][:60] for q in captured]


def test_the_setting_must_be_a_boolean(webhooks_settings):
    from webhooks.checks.settings import check_webhooks_settings

    webhooks_settings(PREPARED_STATEMENTS="off")

    errors = [e for e in check_webhooks_settings() if "PREPARED_STATEMENTS" in e.msg]
    assert [e.id for e in errors] == ["webhooks.E005"]
