"""Webhook URLs may carry credentials: encrypted at rest, shown whole only to their owners."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks import crypto
from webhooks.engine.lanes import deliver
from webhooks.events import EVENT_TYPES
from webhooks.models import DeliveryAttempt, Webhook
from webhooks.services.emit import emit_webhook_event
from webhooks.wire import redacted_error, redacted_url

TOKEN = "T000/B000/xoxb-5ecret"
SLACK = f"https://hooks.example.com/services/{TOKEN}?token=abc123&channel=ops"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (SLACK, "https://hooks.example.com/…?token=…&channel=…"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("http://user:pw@10.0.0.1:8443/x", "http://…@10.0.0.1:8443/…"),
        ("https://[2001:db8::1]/hook", "https://[2001:db8::1]/…"),
        ("https://hooks.example.com/…", "https://hooks.example.com/…"),  # idempotent
        ("no scheme at all", "…"),
        ("http://[bad", "…"),
    ],
)
def test_redacted_url_keeps_scheme_host_port_and_parameter_names(url, shown):
    assert redacted_url(url) == shown


@pytest.mark.django_db
def test_the_column_holds_no_part_of_the_url():
    webhook = WebhookFactory(url=SLACK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM webhooks_webhook WHERE id = %s", [webhook.id])
        (stored,) = cursor.fetchone()
    assert "hooks.example.com" not in stored and "abc123" not in stored
    assert crypto.decrypt(stored) == SLACK
    assert TOKEN not in str(webhook)


@pytest.mark.django_db
def test_the_owner_reads_it_whole_and_a_read_only_key_redacted(make_key_client):
    webhook = WebhookFactory(url=SLACK)
    detail = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"
    owner = make_key_client(webhook.project_id, ["webhooks:read", "webhooks:write"])
    reader = make_key_client(webhook.project_id, ["webhooks:read"])

    assert owner.get(detail).json()["url"] == SLACK
    for response in (reader.get(detail), reader.get(detail.rsplit("/", 1)[0])):
        assert TOKEN not in response.content.decode()
        assert "abc123" not in response.content.decode()
    assert reader.get(detail).json()["url"] == "https://hooks.example.com/…?token=…&channel=…"


@pytest.mark.django_db
def test_attempts_history_and_admin_show_it_redacted(
    receiver, make_key_client, client, caplog, woken
):
    url = receiver.url(f"/hook/{TOKEN}") + "?token=abc123"
    webhook = WebhookFactory(url=url, event_types=["*"])
    delivery = emit_webhook_event(
        webhook.project_id, "variant.deleted", EVENT_TYPES["variant.deleted"].example
    ).deliveries.get()
    with caplog.at_level(logging.DEBUG):
        deliver(delivery.id)

    stored = DeliveryAttempt.objects.get(delivery=delivery).request_url
    owner = make_key_client(webhook.project_id)
    history = owner.get(
        f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/deliveries/{delivery.id}"
    )
    # staff who may only view (a writer sees it whole: tests/test_redaction_matrix.py)
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_webhook", "view_delivery"])
    )
    client.force_login(viewer)
    pages = [
        client.get("/admin/webhooks/webhook/"),
        client.get(f"/admin/webhooks/webhook/{webhook.id}/change/"),
        client.get(f"/admin/webhooks/delivery/{delivery.id}/change/"),
    ]

    assert stored == f"http://127.0.0.1:{receiver.port}/…?token=…"
    assert history.json()["attempts"][0]["request_url"] == stored
    for text in [history.content.decode(), caplog.text, *(p.content.decode() for p in pages)]:
        assert "abc123" not in text and "xoxb" not in text


@pytest.mark.django_db
def test_emitting_never_decrypts_a_url(monkeypatch, woken):
    webhook = WebhookFactory(url=SLACK, event_types=["*"])
    Webhook.objects.filter(id=webhook.id).update(headers={})  # no other encrypted value read
    calls = []
    real = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda token: calls.append(token) or real(token))

    event = emit_webhook_event(
        webhook.project_id, "variant.deleted", EVENT_TYPES["variant.deleted"].example
    )

    assert event.delivery_count == 1
    assert calls == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_urls_already_stored():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    hardening = next(key for key in executor.loader.graph.nodes if key[1].endswith("_hardening"))
    before = executor.loader.graph.node_map[hardening].parents
    latest = executor.loader.graph.leaf_nodes("webhooks")
    executor.migrate([parent.key for parent in before])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO webhooks_webhook (id, project_id, name, description, url, event_types,"
                " filters, headers, secret, is_active, disabled_reason, created_at, updated_at)"
                " VALUES (gen_random_uuid(), gen_random_uuid(), 'old', '', %s, '[\"*\"]', '{}',"
                " %s, %s, true, '', now(), now())",
                [SLACK, crypto.encrypt("{}"), crypto.encrypt("whsec_x")],
            )
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)

    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM webhooks_webhook WHERE name = 'old'")
        (stored,) = cursor.fetchone()
    assert "hooks.example.com" not in stored
    assert Webhook.objects.get(name="old").url == SLACK


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
            "/hook/T0K?token=abc (Caused by NewConnectionError(...))",
            "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /… "
            "(Caused by NewConnectionError(...))",
        ),
        (
            "Invalid URL 'https://h.example/a/b?k=v': bad",
            "Invalid URL 'https://h.example/…?k=…': bad",
        ),
        ("HTTP 503 Service Unavailable", "HTTP 503 Service Unavailable"),
    ],
)
def test_error_messages_lose_the_paths_they_quote(error, shown):
    assert redacted_error(error) == shown


@pytest.mark.django_db
def test_a_connection_error_in_the_history_hides_the_token(unused_port, make_key_client):
    webhook = WebhookFactory(url=f"http://127.0.0.1:{unused_port}/hook/{TOKEN}?token=abc123")
    delivery = DeliveryFactory(webhook=webhook)
    deliver(delivery.id)
    owner = make_key_client(webhook.project_id)
    base = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/deliveries"

    shown = owner.get(f"{base}/{delivery.id}").content.decode()
    listed = owner.get(base).content.decode()

    assert "could not" in shown or "connect" in shown.lower()
    for text in (shown, listed):
        assert "abc123" not in text and "xoxb" not in text
