"""Delivery history API: filters, newest-first cursor pages, detail with redacted attempts."""

import json
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    EventFactory,
    WebhookFactory,
)
from tests.receiver import Reply
from webhooks import wire
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

SECRET_HEADER_VALUE = "Bearer sk-live-abcdef123456"


def _url(webhook, suffix="deliveries"):
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/{suffix}"


def _delivery(webhook, status="succeeded", event_type="config.deployed", days_ago=0):
    delivery = DeliveryFactory(
        webhook=webhook,
        status=status,
        event=EventFactory(project_id=webhook.project_id, type=event_type),
    )
    if days_ago:
        Delivery.objects.filter(id=delivery.id).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return delivery


@pytest.fixture
def webhook():
    return WebhookFactory()


@pytest.fixture
def reader(webhook, make_key_client):
    return make_key_client(webhook.project_id, ["webhooks:read"])


def test_list_is_newest_first_and_cursor_pages_cover_every_delivery_once(webhook, reader):
    created = [_delivery(webhook).id for _ in range(7)]
    _delivery(WebhookFactory(project_id=webhook.project_id))  # another webhook's: not listed

    seen, url, pages = [], _url(webhook) + "?limit=3", 0
    while url:
        response = reader.get(url)
        assert response.status_code == 200
        seen += [row["id"] for row in response.json()["results"]]
        url, pages = response.json()["next"], pages + 1

    assert pages == 3
    assert seen == [str(i) for i in reversed(created)]


def test_list_rows_say_what_happened(webhook, reader):
    delivery = _delivery(webhook, status="failed")
    Delivery.objects.filter(id=delivery.id).update(
        attempt_count=7, last_status_code=500, last_error="HTTP 500"
    )

    (row,) = reader.get(_url(webhook)).json()["results"]

    assert row["id"] == str(delivery.id)
    assert row["event_id"] == str(delivery.event_id)
    assert row["event_type"] == "config.deployed"
    assert row["status"] == "failed"
    assert row["trigger"] == "auto"
    assert row["attempt_count"] == 7
    assert row["last_status_code"] == 500
    assert row["last_error"] == "HTTP 500"


def test_filters_by_status_event_type_and_creation_window(webhook, reader):
    failed_old = _delivery(webhook, status="failed", days_ago=10)
    failed_new = _delivery(webhook, status="failed", days_ago=1)
    pending = _delivery(webhook, status="pending")
    committed = _delivery(webhook, event_type="config.committed")

    def ids(query):
        response = reader.get(_url(webhook) + query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("?status=failed") == {str(failed_old.id), str(failed_new.id)}
    assert ids("?status=failed,pending") == {
        str(failed_old.id),
        str(failed_new.id),
        str(pending.id),
    }
    assert ids("?event_type=config.committed") == {str(committed.id)}
    after = (timezone.now() - timedelta(days=5)).isoformat()
    before = (timezone.now() - timedelta(hours=1)).isoformat()
    assert ids(f"?status=failed&created_after={quote(after)}") == {str(failed_new.id)}
    assert ids(f"?created_before={quote(before)}") == {str(failed_old.id), str(failed_new.id)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=exploded", "status"),
        ("?event_type=no.such.type", "event_type"),
        ("?created_after=yesterday", "created_after"),
        (
            "?created_after=2025-01-02T00:00:00Z&created_before=2025-01-01T00:00:00Z",
            "created_before",
        ),
        ("?cursor=garbage", "cursor"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(webhook, reader, query, field):
    response = reader.get(_url(webhook) + query)

    assert response.status_code == 400
    assert field in response.json()


def test_detail_shows_event_body_and_every_attempt_with_secrets_redacted(webhook, reader):
    delivery = _delivery(webhook, status="succeeded")
    DeliveryAttemptFactory(
        delivery=delivery,
        number=1,
        request_headers={
            "content-type": "application/json",
            "webhook-id": str(delivery.id),
            "authorization": SECRET_HEADER_VALUE,
            "X-Deploy-Token": "tok_98765",
        },
        response_status=503,
        response_headers={"retry-after": "5", "set-cookie": "session=abc"},
        response_body="down for maintenance",
        error_kind="http_status",
        error_message="HTTP 503",
    )
    DeliveryAttemptFactory(
        delivery=delivery, number=2, response_status=200, response_body='{"ok":true}'
    )

    response = reader.get(_url(webhook, f"deliveries/{delivery.id}"))

    assert response.status_code == 200
    body = response.json()
    assert body["event"]["type"] == "config.deployed"
    assert body["event"]["payload"] == json.loads(delivery.event.body)
    first, second = body["attempts"]
    assert first["number"] == 1
    assert first["trigger"] == "auto"
    assert first["duration_ms"] == 12
    assert first["request_url"] == wire.redacted_url(webhook.url)
    assert first["request_url"].endswith("/…")
    assert first["request_headers"]["webhook-id"] == str(delivery.id)
    assert first["request_headers"]["authorization"] == "[redacted]"
    assert first["request_headers"]["X-Deploy-Token"] == "[redacted]"
    assert first["response_status"] == 503
    assert first["response_headers"] == {"retry-after": "5", "set-cookie": "[redacted]"}
    assert first["response_body"] == "down for maintenance"
    assert (first["error_kind"], first["error_message"]) == ("http_status", "HTTP 503")
    assert (second["number"], second["response_status"]) == (2, 200)
    text = response.content.decode()
    for secret in (SECRET_HEADER_VALUE, "tok_98765", "session=abc", webhook.secret):
        assert secret not in text


def test_another_projects_key_and_deleted_webhooks_get_404(webhook, reader, make_key_client):
    delivery = _delivery(webhook)
    stranger = make_key_client(uuid.uuid4(), ["webhooks:read"])

    assert stranger.get(_url(webhook)).status_code == 404
    assert stranger.get(_url(webhook, f"deliveries/{delivery.id}")).status_code == 404
    other_webhook = WebhookFactory(project_id=webhook.project_id)
    assert reader.get(_url(other_webhook, f"deliveries/{delivery.id}")).status_code == 404

    webhook.deleted_at = timezone.now()
    webhook.save()
    assert reader.get(_url(webhook)).status_code == 404


def test_reading_history_needs_the_read_scope(webhook, make_key_client):
    emitter = make_key_client(webhook.project_id, ["events:emit"])

    response = emitter.get(_url(webhook))

    assert response.status_code == 403
    assert "webhooks:read" in response.json()["detail"]


def test_service_key_reads_any_project(webhook, service_client):
    delivery = _delivery(webhook)

    response = service_client.get(_url(webhook))

    assert [row["id"] for row in response.json()["results"]] == [str(delivery.id)]


def test_detail_of_a_real_delivery_shows_what_was_sent_and_received(receiver, make_key_client):
    # given a webhook whose custom headers carry a credential, delivered by the engine
    webhook = WebhookFactory(
        url=receiver.url(), headers={"Authorization": SECRET_HEADER_VALUE, "X-Env": "prod"}
    )
    delivery = _delivery(webhook, status="pending")
    receiver.reply_with(Reply(status=202, headers={"X-Request-Id": "r-1"}, body=b"queued"))
    deliver(delivery.id)
    (received,) = receiver.wait_for(1)
    assert received.headers["authorization"] == SECRET_HEADER_VALUE  # the receiver got it

    # when the history is read
    reader = make_key_client(webhook.project_id, ["webhooks:read"])
    body = reader.get(_url(webhook, f"deliveries/{delivery.id}")).json()

    # then the attempt shows the request and response, without the credential or signature
    (attempt,) = body["attempts"]
    sent = attempt["request_headers"]
    assert sent["webhook-id"] == str(delivery.id)
    assert sent["X-Agenta-Event"] == "config.deployed"
    assert sent["X-Env"] == "prod"
    assert sent["Authorization"] == "[redacted]"
    assert sent["webhook-signature"] == "[redacted]"
    assert attempt["response_status"] == 202
    assert attempt["response_headers"]["x-request-id"] == "r-1"
    assert attempt["response_body"] == "queued"
    assert body["status"] == "succeeded"
    text = json.dumps(body)
    assert SECRET_HEADER_VALUE not in text
    assert received.headers["webhook-signature"] not in text
    assert webhook.secret.removeprefix("whsec_") not in text
