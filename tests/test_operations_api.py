"""Stats of a webhook, and the operators' /api/admin/ endpoints (service key only)."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db

ADMIN_ENDPOINTS = ["/api/admin/webhooks/cleanup?days=30", "/api/admin/webhooks/retry-stuck"]


def _aged(webhook, status, age, delivered_at=None):
    delivery = DeliveryFactory(webhook=webhook, status=status, delivered_at=delivered_at)
    Delivery.objects.filter(id=delivery.id).update(created_at=timezone.now() - age)
    return delivery


def test_stats_count_by_status_over_24h_and_7_days(make_key_client):
    now = timezone.now()
    failing_since = now - timedelta(hours=3)
    webhook = WebhookFactory(failing_since=failing_since)
    last_success = now - timedelta(days=2)
    _aged(webhook, "succeeded", timedelta(days=2), delivered_at=last_success)
    _aged(webhook, "failed", timedelta(days=3))
    _aged(webhook, "failed", timedelta(hours=2))
    _aged(webhook, "pending", timedelta(minutes=5))
    _aged(webhook, "succeeded", timedelta(days=9), delivered_at=now - timedelta(days=9))
    _aged(WebhookFactory(project_id=webhook.project_id), "failed", timedelta(hours=1))
    reader = make_key_client(webhook.project_id, ["webhooks:read"])

    response = reader.get(f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/stats")

    assert response.status_code == 200
    stats = response.json()
    assert stats["last_24h"] == {
        "total": 2,
        "pending": 1,
        "delivering": 0,
        "succeeded": 0,
        "failed": 1,
    }
    assert stats["last_7d"] == {
        "total": 4,
        "pending": 1,
        "delivering": 0,
        "succeeded": 1,
        "failed": 2,
    }
    assert stats["last_success_at"] == last_success.isoformat().replace("+00:00", "Z")
    assert stats["failing_since"] == failing_since.isoformat().replace("+00:00", "Z")
    assert stats["is_active"] is True


def test_stats_of_a_new_webhook_are_zero(make_key_client):
    webhook = WebhookFactory()
    reader = make_key_client(webhook.project_id, ["webhooks:read"])

    stats = reader.get(f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/stats").json()

    assert stats["last_7d"]["total"] == 0
    assert (stats["last_success_at"], stats["failing_since"]) == (None, None)


def test_admin_cleanup_deletes_old_history_and_answers_a_summary(service_client):
    webhook = WebhookFactory()
    old = _aged(webhook, "succeeded", timedelta(days=40))
    Event.objects.filter(id=old.event_id).update(created_at=timezone.now() - timedelta(days=40))
    recent = _aged(webhook, "failed", timedelta(days=2))

    response = service_client.post("/api/admin/webhooks/cleanup?days=30")

    assert response.status_code == 200
    summary = response.json()
    assert (summary["deliveries"], summary["events"], summary["days"]) == (1, 1, 30)
    assert list(Delivery.objects.values_list("id", flat=True)) == [recent.id]


def test_admin_cleanup_dry_run_deletes_nothing(service_client):
    _aged(WebhookFactory(), "succeeded", timedelta(days=40))

    response = service_client.post("/api/admin/webhooks/cleanup?days=30&dry_run=true")

    assert response.json()["deliveries"] == 1
    assert response.json()["dry_run"] is True
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [("days=0", "days"), ("days=thirty", "days"), ("days=30&batch_size=0", "batch_size")],
)
def test_admin_cleanup_refuses_bad_parameters(service_client, query, field):
    _aged(WebhookFactory(), "succeeded", timedelta(days=40))

    response = service_client.post(f"/api/admin/webhooks/cleanup?{query}")

    assert response.status_code == 400
    assert field in response.json()
    assert Delivery.objects.count() == 1


def test_admin_retry_stuck_recovers_and_wakes(service_client, woken):
    stuck = DeliveryFactory(status="delivering", locked_until=timezone.now() - timedelta(minutes=1))

    response = service_client.post("/api/admin/webhooks/retry-stuck?stuck_after=30m")

    assert response.status_code == 200
    assert response.json() == {
        "stuck_after_seconds": 1800,
        "expired_leases": 1,
        "stuck": 0,
        "woken": 1,
    }
    assert woken == [str(stuck.webhook_id)]


def test_admin_retry_stuck_refuses_a_bad_duration(service_client):
    response = service_client.post("/api/admin/webhooks/retry-stuck?stuck_after=forever")

    assert response.status_code == 400
    assert "stuck_after" in response.json()


@pytest.mark.parametrize("endpoint", ADMIN_ENDPOINTS)
def test_admin_endpoints_refuse_project_keys_and_anonymous_callers(
    endpoint, make_key_client, client
):
    old = _aged(WebhookFactory(), "succeeded", timedelta(days=40))
    project_key = make_key_client(old.webhook.project_id)  # every scope
    other_key = make_key_client(uuid.uuid4())

    assert project_key.post(endpoint).status_code == 403
    assert other_key.post(endpoint).status_code == 403
    assert client.post(endpoint).status_code in (401, 403)
    assert Delivery.objects.filter(id=old.id).exists()


def test_admin_endpoints_accept_a_superuser_session_only(client, woken):
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.post("/api/admin/webhooks/retry-stuck").status_code == 403
    staff.is_superuser = True
    staff.save()

    response = client.post("/api/admin/webhooks/retry-stuck")

    assert response.status_code == 200
    assert response.json()["woken"] == 0


def test_admin_endpoints_only_accept_post(service_client):
    for endpoint in ADMIN_ENDPOINTS:
        assert service_client.get(endpoint).status_code == 405
