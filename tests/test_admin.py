"""Django admin: pages render for staff, actions call the services, secrets stay hidden."""

import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ApiKeyFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    WebhookFactory,
)
from webhooks.models import ApiKey, Delivery, Webhook
from webhooks.services.api_keys import authenticate_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def _staff_with(client, *codenames):
    user = User.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _act(client, model: str, action: str, objects) -> list[str]:
    response = client.post(
        f"/admin/webhooks/{model}/",
        {"action": action, "_selected_action": [str(o.pk) for o in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return _messages(response)


def test_every_list_and_detail_page_renders_for_staff(staff_client):
    delivery = DeliveryFactory(status="failed")
    DeliveryAttemptFactory(
        delivery=delivery,
        number=1,
        request_headers={"webhook-id": str(delivery.id), "authorization": "Bearer hunter2"},
        response_status=500,
        response_body="upstream exploded",
        error_kind="http_status",
    )
    key = ApiKeyFactory()
    pages = [
        "/admin/webhooks/webhook/",
        f"/admin/webhooks/webhook/{delivery.webhook_id}/change/",
        "/admin/webhooks/delivery/",
        f"/admin/webhooks/delivery/?status=failed&created_at__year={timezone.now().year}",
        f"/admin/webhooks/delivery/{delivery.id}/change/",
        "/admin/webhooks/event/",
        f"/admin/webhooks/event/{delivery.event_id}/change/",
        "/admin/webhooks/apikey/",
        "/admin/webhooks/apikey/add/",
        f"/admin/webhooks/apikey/{key.id}/change/",
        f"/admin/webhooks/webhook/?q={delivery.webhook.project_id}",
        "/admin/webhooks/webhook/?q=not-a-uuid&failing=yes",
    ]
    for page in pages:
        assert staff_client.get(page).status_code == 200, page

    detail = staff_client.get(f"/admin/webhooks/delivery/{delivery.id}/change/").content.decode()
    assert "upstream exploded" in detail
    assert str(delivery.id) in detail
    assert "hunter2" not in detail
    webhook_list = staff_client.get("/admin/webhooks/webhook/").content.decode()
    assert "failed" in webhook_list  # last delivery status column


def test_non_staff_are_refused(client):
    DeliveryFactory()
    user = User.objects.create_user("visitor", password="pw")
    client.force_login(user)

    for page in ["/admin/webhooks/delivery/", "/admin/webhooks/webhook/"]:
        response = client.get(page)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_staff_without_permissions_are_refused(client):
    DeliveryFactory()
    _staff_with(client)

    assert client.get("/admin/webhooks/delivery/").status_code == 403


def test_webhook_page_never_shows_the_secret_but_reveal_does_with_change_permission(
    staff_client,
):
    webhook = WebhookFactory()
    page = staff_client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").content.decode()
    assert webhook.secret not in page
    assert webhook.secret.removeprefix("whsec_") not in page
    reveal = f"/admin/webhooks/webhook/{webhook.id}/reveal-secret/"
    assert reveal in page

    confirm = staff_client.get(reveal)
    assert confirm.status_code == 200
    assert webhook.secret not in confirm.content.decode()

    shown = staff_client.post(reveal)
    assert shown.status_code == 200
    assert webhook.secret in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert LogEntry.objects.filter(
        object_id=str(webhook.id), change_message="Revealed the signing secret."
    ).exists()


def test_reveal_needs_the_change_permission(client):
    webhook = WebhookFactory()
    _staff_with(client, "view_webhook")

    assert client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").status_code == 200
    response = client.post(f"/admin/webhooks/webhook/{webhook.id}/reveal-secret/")

    assert response.status_code == 403
    assert webhook.secret not in response.content.decode()


def test_enable_and_disable_actions(staff_client):
    off = WebhookFactory(is_active=False, disabled_reason="Failing for 5 days.")
    Webhook.objects.filter(id=off.id).update(failing_since=timezone.now())
    on = WebhookFactory()

    assert _act(staff_client, "webhook", "enable", [off, on]) == ["Enabled 1 webhooks."]
    off.refresh_from_db()
    assert (off.is_active, off.disabled_reason, off.failing_since) == (True, "", None)

    assert _act(staff_client, "webhook", "disable", [off, on]) == ["Disabled 2 webhooks."]
    assert not Webhook.objects.filter(is_active=True).exists()


def test_rotate_secret_action_keeps_the_old_secret_for_the_grace_period(staff_client):
    webhook = WebhookFactory()
    old = webhook.secret

    assert _act(staff_client, "webhook", "rotate_secret", [webhook]) == [
        "Rotated the secret of 1 webhooks."
    ]

    webhook.refresh_from_db()
    assert webhook.secret != old
    assert webhook.previous_secret == old
    assert webhook.signing_secrets(timezone.now()) == [webhook.secret, old]


def test_retry_selected_deliveries_counts_what_it_queued_and_skipped(staff_client):
    failed = DeliveryFactory(status="failed")
    succeeded = DeliveryFactory(status="succeeded")
    in_flight = DeliveryFactory(status="delivering")

    messages = _act(staff_client, "delivery", "retry_selected", [failed, succeeded, in_flight])

    assert messages == [
        "Queued 2 deliveries for a manual attempt. Skipped 1 (in flight, or their webhook is "
        "disabled)."
    ]
    for delivery in (failed, succeeded):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.trigger) == ("pending", "manual")
    in_flight.refresh_from_db()
    assert in_flight.status == "delivering"


def test_retry_action_is_only_offered_to_staff_who_may_change_deliveries(client):
    failed = DeliveryFactory(status="failed")
    _staff_with(client, "view_delivery")

    page = client.get("/admin/webhooks/delivery/").content.decode()
    assert "retry_selected" not in page
    _act(client, "delivery", "retry_selected", [failed])

    failed.refresh_from_db()
    assert failed.status == "failed"


def test_deliveries_and_events_are_read_only(staff_client):
    delivery = DeliveryFactory(status="failed")

    response = staff_client.post(
        f"/admin/webhooks/delivery/{delivery.id}/change/", {"status": "succeeded"}
    )

    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert staff_client.get("/admin/webhooks/delivery/add/").status_code == 403
    assert staff_client.get(f"/admin/webhooks/event/{delivery.event_id}/delete/").status_code == 403


def test_create_api_key_shows_it_once_and_it_works(staff_client):
    project_id = uuid.uuid4()

    response = staff_client.post(
        "/admin/webhooks/apikey/add/",
        {"project_id": str(project_id), "name": "ci", "scopes": ["webhooks:read"]},
    )

    assert response.status_code == 200
    key = ApiKey.objects.get(name="ci")
    plain = response.context["plain_key"]
    assert plain.startswith(key.prefix + ".")
    assert plain in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert key.secret_hash not in response.content.decode()
    assert authenticate_api_key(plain).id == key.id
    assert key.scopes == ["webhooks:read"]
    assert key.project_id == project_id
    # Shown once: the key's own page never has it.
    page = staff_client.get(f"/admin/webhooks/apikey/{key.id}/change/").content.decode()
    assert plain.split(".", 1)[1] not in page


def test_create_api_key_with_bad_input_shows_the_form_again(staff_client):
    response = staff_client.post(
        "/admin/webhooks/apikey/add/", {"project_id": "nope", "name": "", "scopes": ["root"]}
    )

    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"project_id", "name", "scopes"}
    assert not ApiKey.objects.exists()


def test_revoke_action(staff_client):
    live, already = ApiKeyFactory(), ApiKeyFactory(revoked_at=timezone.now())

    assert _act(staff_client, "apikey", "revoke", [live, already]) == ["Revoked 1 API keys."]
    live.refresh_from_db()
    assert live.revoked_at is not None


def test_webhook_list_filters_and_deleted_rows_are_left_alone_by_actions(staff_client):
    deleted = WebhookFactory(is_active=False, deleted_at=timezone.now())

    assert _act(staff_client, "webhook", "enable", [deleted]) == ["Enabled 0 webhooks."]
    deleted.refresh_from_db()
    assert not deleted.is_active
    assert Delivery.objects.count() == 0


def test_send_test_action_pings_each_webhook_and_reports_the_outcomes(
    staff_client, receiver, unused_port
):
    up = WebhookFactory(name="up", url=receiver.url())
    down = WebhookFactory(name="down", url=f"http://127.0.0.1:{unused_port}/hook")

    messages = _act(staff_client, "webhook", "send_test", [up, down])

    assert len(messages) == 3
    assert any(m.startswith("up: HTTP 200 in ") for m in messages)
    assert any(m.startswith("down: ") and "refused" in m for m in messages)
    assert messages[-1] == "Sent 2 test events; 1 succeeded."
    (request,) = receiver.wait_for(1)
    assert request.headers["x-agenta-event"] == "webhook.test"
    assert Delivery.objects.filter(trigger="test").count() == 2


def test_event_page_lists_its_deliveries(staff_client):
    delivery = DeliveryFactory(status="failed")

    page = staff_client.get(f"/admin/webhooks/event/{delivery.event_id}/change/")

    assert page.status_code == 200
    assert f"/admin/webhooks/delivery/{delivery.id}/change/" in page.content.decode()


def test_staff_may_change_a_webhooks_in_flight_cap_and_nothing_else(staff_client):
    webhook = WebhookFactory(url="https://hooks.example.com/a")
    url = reverse("admin:webhooks_webhook_change", args=[webhook.pk])
    page = staff_client.get(url)
    assert b'name="max_in_flight"' in page.content
    assert b'name="url"' not in page.content  # read-only: the API validates URLs

    response = staff_client.post(url, {"max_in_flight": "2", "url": "http://10.0.0.1/"})

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.max_in_flight, webhook.url) == (2, "https://hooks.example.com/a")
    assert staff_client.post(url, {"max_in_flight": "40"}).status_code == 200  # form error
    assert Webhook.objects.get(pk=webhook.pk).max_in_flight == 2


def test_the_admin_refuses_a_cap_above_the_projects(staff_client, webhooks_settings):
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=5)
    webhook = WebhookFactory(max_in_flight=2)
    url = reverse("admin:webhooks_webhook_change", args=[webhook.pk])

    response = staff_client.post(url, {"max_in_flight": "6"})

    assert response.status_code == 200
    assert "capped at 5" in response.content.decode()
    assert Webhook.objects.get(pk=webhook.pk).max_in_flight == 2


def test_the_admin_shows_the_circuit_breaker_in_the_list_and_the_change_page(staff_client):
    webhook = WebhookFactory(consecutive_failures=4, circuit_open_since=timezone.now())
    listed = staff_client.get(reverse("admin:webhooks_webhook_changelist")).content.decode()
    page = staff_client.get(reverse("admin:webhooks_webhook_change", args=[webhook.pk]))
    assert "open since" in listed and "one lane (4 failures in a row)" in listed
    assert "one lane (4 failures in a row)" in page.content.decode()


def test_the_custom_headers_and_secret_fields_carry_their_own_labels(staff_client):
    webhook = WebhookFactory(headers={"X-Team": "ml"})

    page = staff_client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").content.decode()

    assert "<label>Custom headers:</label>" in page
    assert "<label>Signing secret:</label>" in page
    assert "<label>Secret:</label>" not in page and "<label>Headers:</label>" not in page
