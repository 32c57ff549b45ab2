"""The webhook admin's recover action: a form for "since", then the same service as the API."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.utils import timezone

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

URL = "/admin/webhooks/webhook/"


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def _failed(webhook, hours_ago: float) -> Delivery:
    delivery = DeliveryFactory(webhook=webhook, status=Delivery.Status.FAILED)
    created = timezone.now() - timedelta(hours=hours_ago)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=created)
    return delivery


def _local(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")  # what a datetime-local input sends (UTC here)


def test_recover_asks_for_since_then_requeues_only_failed_deliveries_since_then(staff_client):
    # given two webhooks with failed deliveries 2 h and 30 h old
    first, second = WebhookFactory(), WebhookFactory()
    recent = [_failed(first, 2), _failed(second, 2)]
    old = _failed(first, 30)
    succeeded = DeliveryFactory(webhook=first, status=Delivery.Status.SUCCEEDED)
    selection = {"action": "recover", "_selected_action": [str(first.pk), str(second.pk)]}
    # when the action is chosen: an intermediate page with the form and the webhooks
    page = staff_client.post(URL, selection)
    assert page.status_code == 200
    assert b'name="since"' in page.content
    assert first.name.encode() in page.content and second.name.encode() in page.content
    assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() == 0
    # when the form is sent with since = a day ago
    since = _local(timezone.now() - timedelta(days=1))
    response = staff_client.post(URL, {**selection, "apply": "1", "since": since}, follow=True)
    # then the recent failures are pending manual attempts, due now; nothing else moved
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Re-queued 2 failed deliveries of 2 webhooks." in messages
    for delivery in recent:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.trigger) == ("pending", "recover")
        assert delivery.next_attempt_at <= timezone.now()
    old.refresh_from_db()
    succeeded.refresh_from_db()
    assert (old.status, succeeded.status) == ("failed", "succeeded")


def _recover(client, webhooks, since) -> list[str]:
    form = {
        "action": "recover",
        "_selected_action": [str(w.pk) for w in webhooks],
        "apply": "1",
        "since": _local(since),
    }
    response = client.post(URL, form, follow=True)
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_recover_reports_what_the_service_refuses_and_recovers_the_rest(staff_client):
    active, disabled = WebhookFactory(), WebhookFactory(is_active=False)
    delivery, _ = _failed(active, 1), _failed(disabled, 1)

    too_old = _recover(staff_client, [active], timezone.now() - timedelta(days=30))
    assert too_old == [f"{active.name}: Must be within the last 14 days.", _none(1)]
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    messages = _recover(staff_client, [active, disabled], timezone.now() - timedelta(hours=2))
    assert f"{disabled.name}: The webhook is disabled; enable it first." in messages
    assert "Re-queued 1 failed deliveries of 2 webhooks." in messages
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def _none(webhooks: int) -> str:
    return f"Re-queued 0 failed deliveries of {webhooks} webhooks."


def test_recover_shows_the_form_again_when_since_is_not_a_time(staff_client):
    webhook = WebhookFactory()
    response = staff_client.post(
        URL,
        {"action": "recover", "_selected_action": [str(webhook.pk)], "apply": "1", "since": "x"},
    )
    assert response.status_code == 200
    assert b"Enter a valid date/time." in response.content
