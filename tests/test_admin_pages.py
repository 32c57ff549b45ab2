"""Admin pages as staff read them: order, buttons that call the services, compact lists."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.utils import timezone

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, WebhookFactory
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery
from webhooks.services.testing import send_test

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def _viewer(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    codenames = ["view_webhook", "view_delivery", "view_event"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _labels(html: str) -> list[str]:
    """Return the field labels of a change page, in page order."""
    return [
        re.sub(r"<[^>]+>|:", "", label).strip()
        for label in re.findall(r"<label[^>]*>(.*?)</label>", html)
    ]


def test_the_delivery_page_reads_from_identity_to_bookkeeping_with_one_last_error(staff_client):
    delivery = DeliveryFactory(status="failed", last_error="HTTP 500 Internal Server Error")
    html = staff_client.get(f"/admin/webhooks/delivery/{delivery.id}/change/").content.decode()
    labels = _labels(html)
    assert labels.index("Status") < labels.index("Last error") < labels.index("Lease expiries")
    assert labels[0] == "Id"
    assert labels.count("Last error") == 1
    assert html.count("HTTP 500 Internal Server Error") == 1


def test_redeliver_on_the_delivery_page_queues_a_manual_attempt(
    staff_client, woken, django_capture_on_commit_callbacks
):
    delivery = DeliveryFactory(status="failed", attempt_count=7, auto_attempt_count=7)
    page = staff_client.get(f"/admin/webhooks/delivery/{delivery.id}/change/").content.decode()
    assert 'id="redeliver"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/admin/webhooks/delivery/{delivery.id}/redeliver/", follow=True
        )

    assert "Queued 1 delivery for a manual attempt." in _messages(response)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.trigger) == ("pending", "manual")
    assert woken == [str(delivery.webhook_id)]


def test_redeliver_needs_the_change_permission(client, woken):
    delivery = DeliveryFactory(status="failed")
    _viewer(client)
    page = client.get(f"/admin/webhooks/delivery/{delivery.id}/change/").content.decode()
    assert 'id="redeliver"' not in page
    assert client.post(f"/admin/webhooks/delivery/{delivery.id}/redeliver/").status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_a_test_ping_redelivered_from_the_admin_stays_a_test(staff_client, receiver):
    # given a test ping that failed
    webhook = WebhookFactory(url=receiver.url())
    receiver.reply_with(500)
    outcome = send_test(webhook)
    assert not outcome.succeeded
    # when staff redeliver it and the engine sends it
    receiver.reply_with(200)
    staff_client.post(f"/admin/webhooks/delivery/{outcome.delivery_id}/redeliver/")
    attempt = deliver(outcome.delivery_id)
    # then the attempt is manual, the delivery still a test, and the filter still finds it
    delivery = Delivery.objects.get(pk=outcome.delivery_id)
    assert (attempt.trigger, delivery.trigger, delivery.status) == ("manual", "test", "succeeded")
    assert [a.trigger for a in delivery.attempts.all()] == ["test", "manual"]
    listed = staff_client.get("/admin/webhooks/delivery/?trigger__exact=test").content.decode()
    assert str(delivery.id)[:8] in listed
    assert "1 delivery" in listed


def test_the_webhook_page_has_test_enable_and_recover_buttons(staff_client, receiver):
    webhook = WebhookFactory(url=receiver.url(), is_active=False)
    page = staff_client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").content.decode()
    for button in ('id="send-test"', 'id="enable"', 'id="recover"'):
        assert button in page

    # test: the same service as POST .../test, a real request
    tested = staff_client.post(f"/admin/webhooks/webhook/{webhook.id}/test/", follow=True)
    assert any(m.startswith(f"{webhook.name}: HTTP 200 in ") for m in _messages(tested))
    (request,) = receiver.wait_for(1)
    assert request.headers["x-agenta-event"] == "webhook.test"

    # enable
    staff_client.post(f"/admin/webhooks/webhook/{webhook.id}/active/", {"is_active": "1"})
    webhook.refresh_from_db()
    assert webhook.is_active
    page = staff_client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").content.decode()
    assert 'id="disable"' in page


def test_the_recover_button_resends_failed_real_events_not_test_pings(staff_client, woken):
    webhook = WebhookFactory()
    real = DeliveryFactory(webhook=webhook, status="failed")
    ping = DeliveryFactory(webhook=webhook, status="failed", trigger="test")
    old = DeliveryFactory(webhook=webhook, status="failed")
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    url = f"/admin/webhooks/webhook/{webhook.id}/recover/"
    assert 'name="since"' in staff_client.get(url).content.decode()

    # an empty since means the default window (1 day)
    response = staff_client.post(url, {"since": "", "until": ""}, follow=True)

    assert f"Re-queued 1 failed deliveries of {webhook.name}." in _messages(response)
    states = {d.pk: (d.status, d.trigger) for d in Delivery.objects.all()}
    assert states == {
        real.pk: ("pending", "recover"),
        ping.pk: ("failed", "test"),
        old.pk: ("failed", "auto"),
    }


def test_the_buttons_need_the_change_permission(client):
    webhook = WebhookFactory(is_active=False)
    _viewer(client)
    page = client.get(f"/admin/webhooks/webhook/{webhook.id}/change/").content.decode()
    assert 'id="send-test"' not in page and 'id="recover"' not in page
    for action in ("test", "active", "recover"):
        assert client.post(f"/admin/webhooks/webhook/{webhook.id}/{action}/").status_code == 403
    webhook.refresh_from_db()
    assert not webhook.is_active


def test_list_pages_are_compact_coloured_and_show_times_with_seconds_and_zone(staff_client):
    delivery = DeliveryFactory(status="failed", trigger="manual", attempt_count=3)
    DeliveryAttemptFactory(delivery=delivery, number=1, response_status=503)
    Delivery.objects.filter(pk=delivery.pk).update(last_status_code=503)
    deliveries = staff_client.get("/admin/webhooks/delivery/").content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', deliveries)
    assert columns == [
        "short_id",
        "webhook_name",
        "event_type",
        "state",
        "trigger",
        "attempts",
        "last_code",
        "created",
    ]
    assert f">{str(delivery.id)[:8]}…</code>" in deliveries  # a short id, whole in its title
    assert "color:#cf222e" in deliveries  # failed in red
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", deliveries)
    assert ">Manual<" in deliveries and ">503<" in deliveries

    webhooks = staff_client.get("/admin/webhooks/webhook/").content.decode()
    assert f">{str(delivery.webhook.project_id)[:8]}…</code>" in webhooks
    assert "color:#1a7f37" in webhooks  # active in green
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", webhooks)


def test_the_admin_is_titled_agenta_webhooks(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert "Agenta webhooks" in re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "Django administration" not in html
    assert ">Agenta webhooks<" in html
