"""Retention cleanup: exactly the old rows go, in batches, through the command and the API."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from webhooks.models import Delivery, DeliveryAttempt, Event

pytestmark = pytest.mark.django_db


def _age(queryset, days: float) -> None:
    queryset.update(created_at=timezone.now() - timedelta(days=days))


def _bulk_history(webhook, count: int, days_old: float) -> list[uuid.UUID]:
    """Insert count events, each with one delivery and one attempt, created days_old ago."""
    events = Event.objects.bulk_create(
        Event(project_id=webhook.project_id, type="config.deployed", body="{}")
        for _ in range(count)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, webhook=webhook, status=Delivery.Status.SUCCEEDED) for event in events
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery,
            number=1,
            started_at=timezone.now(),
            request_url=webhook.url,
            response_status=200,
        )
        for delivery in deliveries
    )
    _age(Event.objects.filter(id__in=[e.id for e in events]), days_old)
    _age(Delivery.objects.filter(id__in=[d.id for d in deliveries]), days_old)
    return [d.id for d in deliveries]


def test_cleanup_deletes_ten_thousand_old_deliveries_in_batches_and_keeps_newer():
    # given 10,000 deliveries from 40 days ago and a few from 5 days ago
    webhook = WebhookFactory()
    _bulk_history(webhook, 10_000, days_old=40)
    recent = _bulk_history(webhook, 5, days_old=5)
    # an old event that still has a recent delivery, an old event without any, a new one without
    shared = EventFactory(project_id=webhook.project_id)
    _age(Event.objects.filter(id=shared.id), 40)
    kept_by_delivery = DeliveryFactory(webhook=WebhookFactory(), event=shared)
    lonely_old = EventFactory()
    _age(Event.objects.filter(id=lonely_old.id), 40)
    lonely_new = EventFactory()
    out = io.StringIO()

    # when
    call_command("webhooks_cleanup", "--days", "30", "--batch-size", "3000", stdout=out)

    # then only the newer rows are left
    assert set(Delivery.objects.values_list("id", flat=True)) == {*recent, kept_by_delivery.id}
    assert DeliveryAttempt.objects.count() == 5
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == set(recent)
    remaining_events = set(Event.objects.values_list("id", flat=True))
    assert shared.id in remaining_events
    assert lonely_new.id in remaining_events
    assert lonely_old.id not in remaining_events
    assert len(remaining_events) == 5 + 2
    # and one summary line: 10,000 deliveries in 4 batches, 10,001 events in 4 more
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert (
        "deleted 10000 deliveries, 10000 attempts and 10001 events older than 30 days" in lines[0]
    )
    assert "in 8 batches" in lines[0]


def test_cleanup_dry_run_counts_and_deletes_nothing():
    webhook = WebhookFactory()
    _bulk_history(webhook, 3, days_old=31)
    _bulk_history(webhook, 2, days_old=1)
    out = io.StringIO()

    call_command("webhooks_cleanup", "--days", "30", "--dry-run", stdout=out)

    assert "would delete 3 deliveries, 3 attempts and 3 events" in out.getvalue()
    assert Delivery.objects.count() == 5
    assert Event.objects.count() == 5


def test_cleanup_with_nothing_to_do_exits_cleanly():
    DeliveryAttemptFactory()
    out = io.StringIO()

    call_command("webhooks_cleanup", "--days", "30", stdout=out)

    assert "deleted 0 deliveries, 0 attempts and 0 events" in out.getvalue()
    assert Delivery.objects.count() == 1


def test_cleanup_defaults_to_the_retention_setting(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETENTION_DAYS": 7}
    webhook = WebhookFactory()
    _bulk_history(webhook, 2, days_old=8)
    _bulk_history(webhook, 1, days_old=6)
    out = io.StringIO()

    call_command("webhooks_cleanup", stdout=out)

    assert "deleted 2 deliveries" in out.getvalue()
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "30", "--batch-size", "0"]])
def test_cleanup_refuses_non_positive_arguments(args):
    DeliveryFactory()
    with pytest.raises(CommandError):
        call_command("webhooks_cleanup", *args)
    assert Delivery.objects.count() == 1
