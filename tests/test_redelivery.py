"""Manual retry: failed and succeeded deliveries go again now, with the same webhook-id."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db


def _url(delivery, suffix="/retry"):
    webhook = delivery.webhook
    base = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/deliveries/{delivery.id}"
    return base + suffix


@pytest.fixture
def enqueued(monkeypatch):
    """The webhooks retry wakes once it commits (a worker would deliver their due work)."""
    ids = []
    monkeypatch.setattr(
        "webhooks.services.redelivery.wake_after_commit", lambda batch: ids.extend(batch)
    )
    return ids


@pytest.fixture
def writer(make_key_client):
    def make(delivery):
        project = delivery.webhook.project_id
        return make_key_client(project, ["webhooks:read", "webhooks:write"])

    return make


@pytest.fixture
def single_attempt(settings):
    """Automatic attempts stop after the first, so a failure is final at once."""
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETRY_SCHEDULE_SECONDS": []}


def test_retry_of_a_failed_delivery_sends_it_again_with_the_same_webhook_id(
    receiver, writer, enqueued, single_attempt
):
    # given a delivery that failed
    delivery = DeliveryFactory(webhook=WebhookFactory(url=receiver.url()))
    receiver.reply_with(500)
    deliver(delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    # when it is retried, and the worker runs the queued task
    response = writer(delivery).post(_url(delivery))
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["trigger"] == "manual"
    assert enqueued == [delivery.webhook_id]
    deliver(delivery.id)

    # then the receiver saw the same webhook-id twice, both signed
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery.id)
    assert first.body == second.body
    for request in (first, second):
        StandardWebhook(delivery.webhook.secret).verify(request.body, request.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 2)
    triggers = list(delivery.attempts.values_list("number", "trigger", "response_status"))
    assert triggers == [(1, "auto", 500), (2, "manual", 200)]


def test_retry_of_a_succeeded_delivery_redelivers_it(receiver, writer, enqueued):
    delivery = DeliveryFactory(webhook=WebhookFactory(url=receiver.url()))
    deliver(delivery.id)

    assert writer(delivery).post(_url(delivery)).status_code == 202
    deliver(delivery.id)

    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery.id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 2)


def test_a_failing_manual_attempt_schedules_no_automatic_retry(receiver, writer, enqueued):
    delivery = DeliveryFactory(
        webhook=WebhookFactory(url=receiver.url()),
        status="failed",
        attempt_count=7,
        auto_attempt_count=7,  # its schedule ran out
    )
    receiver.reply_with(503)

    writer(delivery).post(_url(delivery))
    deliver(delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert delivery.attempt_count == 8
    assert delivery.attempts.get().trigger == "manual"
    assert len(receiver.requests) == 1


def test_retry_while_an_attempt_is_in_flight_answers_409(writer, enqueued):
    delivery = DeliveryFactory(status="delivering")

    response = writer(delivery).post(_url(delivery))

    assert response.status_code == 409
    assert "in flight" in response.json()["detail"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.trigger) == ("delivering", "auto")
    assert enqueued == []


def test_retry_of_a_pending_delivery_brings_its_next_attempt_forward(writer, enqueued):
    later = timezone.now() + timedelta(hours=2)
    delivery = DeliveryFactory(status="pending", next_attempt_at=later, attempt_count=3)

    response = writer(delivery).post(_url(delivery))

    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= timezone.now()
    # recorded as manual; should it fail, the automatic schedule goes on where it was
    assert delivery.trigger == "manual"
    assert enqueued == [delivery.webhook_id]


def test_retry_for_a_disabled_webhook_answers_409(writer, enqueued):
    delivery = DeliveryFactory(status="failed", webhook=WebhookFactory(is_active=False))

    response = writer(delivery).post(_url(delivery))

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert Delivery.objects.get(id=delivery.id).status == "failed"


def test_retry_needs_the_write_scope_and_an_existing_delivery(make_key_client, enqueued):
    delivery = DeliveryFactory(status="failed")
    reader = make_key_client(delivery.webhook.project_id, ["webhooks:read"])
    writer = make_key_client(delivery.webhook.project_id, ["webhooks:write"])
    other = DeliveryFactory(status="failed")

    assert reader.post(_url(delivery)).status_code == 403
    wrong_webhook = _url(delivery).replace(str(delivery.id), str(other.id))
    assert writer.post(wrong_webhook).status_code == 404
    assert enqueued == []
