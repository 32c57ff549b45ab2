"""Recover: re-queue exactly the failed deliveries of a webhook created in the window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.engine.sweep import dispatch_due
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def _url(webhook):
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/recover"


def _delivery(webhook, status, age: timedelta):
    delivery = DeliveryFactory(webhook=webhook, status=status, next_attempt_at=None)
    Delivery.objects.filter(id=delivery.id).update(created_at=timezone.now() - age)
    return delivery


@pytest.fixture
def webhook():
    return WebhookFactory()


@pytest.fixture
def writer(webhook, make_key_client):
    return make_key_client(webhook.project_id, ["webhooks:read", "webhooks:write"])


def _statuses():
    return dict(Delivery.objects.values_list("id", "status"))


def test_recover_requeues_exactly_the_failed_deliveries_in_the_window(webhook, writer, woken):
    # given failed deliveries inside and outside the window, and others that must not move
    too_old = _delivery(webhook, "failed", timedelta(days=3))
    inside = [
        _delivery(webhook, "failed", timedelta(days=1)),
        _delivery(webhook, "failed", timedelta(hours=1)),
    ]
    succeeded = _delivery(webhook, "succeeded", timedelta(hours=2))
    pending = _delivery(webhook, "pending", timedelta(hours=2))
    Delivery.objects.filter(id=pending.id).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    other_webhook = _delivery(
        WebhookFactory(project_id=webhook.project_id), "failed", timedelta(hours=1)
    )
    since = timezone.now() - timedelta(days=2)
    before = _statuses()

    # when
    response = writer.post(_url(webhook), {"since": since.isoformat()}, format="json")

    # then
    assert response.status_code == 202
    assert response.json() == {"count": 2}
    after = _statuses()
    for delivery in inside:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.trigger) == ("pending", "recover")
        assert delivery.next_attempt_at <= timezone.now()
    unchanged = [too_old, succeeded, pending, other_webhook]
    assert {d.id: after[d.id] for d in unchanged} == {d.id: before[d.id] for d in unchanged}
    # and the next sweep wakes their webhook (once, for both)
    assert dispatch_due() == 1
    assert woken == [str(webhook.id)]


def test_until_bounds_the_window(webhook, writer):
    older = _delivery(webhook, "failed", timedelta(hours=5))
    _delivery(webhook, "failed", timedelta(minutes=10))
    now = timezone.now()

    response = writer.post(
        _url(webhook),
        {
            "since": (now - timedelta(hours=6)).isoformat(),
            "until": (now - timedelta(hours=1)).isoformat(),
        },
        format="json",
    )

    assert response.json() == {"count": 1}
    assert list(Delivery.objects.filter(status="pending").values_list("id", flat=True)) == [
        older.id
    ]


def test_nothing_to_recover_answers_zero(webhook, writer):
    _delivery(webhook, "succeeded", timedelta(hours=1))

    response = writer.post(_url(webhook), {"since": timezone.now().isoformat()}, format="json")

    assert (response.status_code, response.json()) == (202, {"count": 0})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "last tuesday"}, "since"),
        ({"since": "15 days ago"}, "since"),
        ({"since": "2020-01-01T00:00:00Z"}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"since": "2025-01-02T00:00:00Z", "everything": True}, "everything"),
    ],
)
def test_bad_windows_answer_400_and_move_nothing(webhook, writer, body, field):
    _delivery(webhook, "failed", timedelta(hours=1))

    response = writer.post(_url(webhook), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Delivery.objects.filter(status="pending").exists()


def test_the_window_reaches_back_14_days_at_most(webhook, writer):
    inside = _delivery(webhook, "failed", timedelta(days=13, hours=23))

    ok = writer.post(
        _url(webhook),
        {"since": (timezone.now() - timedelta(days=13, hours=23, minutes=30)).isoformat()},
        format="json",
    )
    too_far = writer.post(
        _url(webhook),
        {"since": (timezone.now() - timedelta(days=14, minutes=1)).isoformat()},
        format="json",
    )

    assert ok.json() == {"count": 1}
    inside.refresh_from_db()
    assert inside.status == "pending"
    assert too_far.status_code == 400
    assert "14 days" in too_far.json()["since"][0]


def test_a_window_with_too_many_failed_deliveries_is_refused_whole(webhook, writer, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RECOVER_MAX_DELIVERIES": 3}
    for _ in range(4):
        _delivery(webhook, "failed", timedelta(hours=1))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    response = writer.post(_url(webhook), {"since": since}, format="json")

    assert response.status_code == 400
    assert "More than 3 failed deliveries" in response.json()["since"][0]
    assert Delivery.objects.filter(status="failed").count() == 4


def test_disabled_webhooks_are_not_recovered(webhook, writer):
    webhook.is_active = False
    webhook.save()
    _delivery(webhook, "failed", timedelta(hours=1))

    response = writer.post(_url(webhook), {"since": timezone.now().isoformat()}, format="json")

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]


def test_recover_needs_the_write_scope(webhook, make_key_client):
    reader = make_key_client(webhook.project_id, ["webhooks:read"])

    response = reader.post(_url(webhook), {"since": timezone.now().isoformat()}, format="json")

    assert response.status_code == 403
