"""Custom headers may carry a receiver's credentials: encrypted at rest, never shown back."""

import uuid

import pytest
from django.db import connection

from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

PROJECT = uuid.uuid4()
TOKEN = "Bearer tok-3f9c2a7e"


@pytest.fixture
def webhook(service_client):
    response = service_client.post(
        f"/api/projects/{PROJECT}/webhooks",
        {
            "name": "bot",
            "url": "https://hooks.example.com/x",
            "headers": {"Authorization": TOKEN, "X-Team": "ml"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return Webhook.objects.get(id=response.json()["id"])


def _detail(webhook):
    return f"/api/projects/{PROJECT}/webhooks/{webhook.id}"


def test_the_database_column_never_holds_the_token(webhook):
    with connection.cursor() as cursor:
        cursor.execute("SELECT headers FROM webhooks_webhook WHERE id = %s", [webhook.id])
        (stored,) = cursor.fetchone()
    assert "tok-3f9c2a7e" not in stored and "X-Team" not in stored
    assert Webhook.objects.get(id=webhook.id).headers == {"Authorization": TOKEN, "X-Team": "ml"}


def test_list_and_detail_redact_credentials_but_show_the_rest(service_client, webhook):
    detail = service_client.get(_detail(webhook)).json()
    listed = service_client.get(f"/api/projects/{PROJECT}/webhooks").json()["results"][0]
    for shown in (detail, listed):
        assert shown["headers"] == {"Authorization": "[redacted]", "X-Team": "ml"}
    assert "tok-3f9c2a7e" not in str(
        service_client.get(f"/api/projects/{PROJECT}/webhooks").content
    )


def test_sending_the_placeholder_back_keeps_the_stored_token(service_client, webhook):
    shown = service_client.get(_detail(webhook)).json()["headers"]
    response = service_client.patch(
        _detail(webhook), {"headers": shown | {"X-Team": "infra"}}, format="json"
    )
    assert response.status_code == 200, response.content
    webhook.refresh_from_db()
    assert webhook.headers == {"Authorization": TOKEN, "X-Team": "infra"}


def test_the_placeholder_for_a_header_never_stored_is_refused(service_client, webhook):
    response = service_client.patch(
        _detail(webhook), {"headers": {"X-Api-Key": "[redacted]"}}, format="json"
    )
    assert response.status_code == 400
    assert "X-Api-Key" in response.json()["headers"][0]
    webhook.refresh_from_db()
    assert webhook.headers["Authorization"] == TOKEN


def test_a_new_token_replaces_the_old_one(service_client, webhook):
    response = service_client.patch(
        _detail(webhook), {"headers": {"Authorization": "Bearer new"}}, format="json"
    )
    assert response.status_code == 200
    webhook.refresh_from_db()
    assert webhook.headers == {"Authorization": "Bearer new"}


def test_the_admin_shows_the_token_redacted(admin_client, webhook):
    page = admin_client.get(f"/admin/webhooks/webhook/{webhook.id}/change/")
    assert page.status_code == 200
    assert b"X-Team" in page.content
    assert b"tok-3f9c2a7e" not in page.content
