"""Test pings: a signed webhook.test event sent now, its outcome answered and recorded."""

import json
import uuid

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.factories import WebhookFactory
from tests.receiver import Reply
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def _url(webhook, suffix="test"):
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/{suffix}"


@pytest.fixture
def writer(make_key_client):
    def make(webhook):
        return make_key_client(webhook.project_id, ["webhooks:read", "webhooks:write"])

    return make


def test_ping_to_a_receiver_answering_200(receiver, writer):
    webhook = WebhookFactory(url=receiver.url(), headers={"X-Team": "deploys"})
    receiver.reply_with(Reply(status=200, body=b'{"received":true}'))

    response = writer(webhook).post(_url(webhook))

    assert response.status_code == 200
    outcome = response.json()
    assert outcome["succeeded"] is True
    assert outcome["status_code"] == 200
    assert outcome["duration_ms"] >= 0
    assert outcome["response_body_excerpt"] == '{"received":true}'
    assert (outcome["error_kind"], outcome["error"]) == ("", "")
    # the receiver got one signed webhook.test event, verifiable with the standard library
    (request,) = receiver.wait_for(1)
    assert request.headers["webhook-id"] == outcome["delivery_id"]
    assert request.headers["x-agenta-event"] == "webhook.test"
    assert request.headers["x-team"] == "deploys"
    StandardWebhook(webhook.secret).verify(request.body, request.headers)
    body = json.loads(request.body)
    assert body["type"] == "webhook.test"
    assert body["id"] == outcome["event_id"]
    assert body["project_id"] == str(webhook.project_id)
    assert body["data"]["webhook_id"] == str(webhook.id)
    # and it is in the history as a test delivery
    delivery = Delivery.objects.get(id=outcome["delivery_id"])
    assert (delivery.status, delivery.trigger) == ("succeeded", "test")
    assert delivery.attempts.get().trigger == "test"
    assert Event.objects.get(id=outcome["event_id"]).body == request.body.decode()
    history = writer(webhook).get(_url(webhook, "deliveries")).json()["results"]
    assert [(row["id"], row["event_type"], row["trigger"]) for row in history] == [
        (outcome["delivery_id"], "webhook.test", "test")
    ]


def test_ping_to_a_receiver_answering_500_is_reported_and_not_retried(receiver, writer):
    webhook = WebhookFactory(url=receiver.url())
    receiver.reply_with(Reply(status=500, body=b"boom: database on fire"))

    outcome = writer(webhook).post(_url(webhook)).json()

    assert outcome["succeeded"] is False
    assert outcome["status_code"] == 500
    assert outcome["response_body_excerpt"] == "boom: database on fire"
    assert outcome["error_kind"] == "http_status"
    assert "500" in outcome["error"]
    delivery = Delivery.objects.get(id=outcome["delivery_id"])
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert len(receiver.requests) == 1


def test_ping_to_a_closed_port_reports_the_connection_error(unused_port, writer):
    webhook = WebhookFactory(url=f"http://127.0.0.1:{unused_port}/hook")

    response = writer(webhook).post(_url(webhook))

    assert response.status_code == 200
    outcome = response.json()
    assert outcome["succeeded"] is False
    assert outcome["status_code"] is None
    assert outcome["error_kind"] == "connection"
    assert outcome["error"]
    assert Delivery.objects.get(id=outcome["delivery_id"]).status == "failed"


def test_long_response_bodies_are_cut_to_an_excerpt(receiver, writer):
    webhook = WebhookFactory(url=receiver.url())
    receiver.reply_with(Reply(status=200, body=b"x" * 5000))

    outcome = writer(webhook).post(_url(webhook)).json()

    assert outcome["response_body_excerpt"] == "x" * 500


def test_a_disabled_webhook_can_be_pinged_before_enabling_it(receiver, writer):
    webhook = WebhookFactory(url=receiver.url(), is_active=False)

    outcome = writer(webhook).post(_url(webhook)).json()

    assert outcome["succeeded"] is True
    receiver.wait_for(1)


def test_pinging_needs_the_write_scope_and_the_right_project(make_key_client):
    webhook = WebhookFactory()
    reader = make_key_client(webhook.project_id, ["webhooks:read"])
    stranger = make_key_client(uuid.uuid4())

    assert reader.post(_url(webhook)).status_code == 403
    assert stranger.post(_url(webhook)).status_code == 404
    assert not Delivery.objects.exists()
