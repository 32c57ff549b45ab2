"""Test pings are throttled per webhook: 1 a second on average, bursts of 5, else 429."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.factories import WebhookFactory
from webhooks.services.ping_throttle import take_test_ping

pytestmark = pytest.mark.django_db


def _test_url(webhook) -> str:
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/test"


def test_five_back_to_back_then_429_with_retry_after(service_client, receiver):
    webhook = WebhookFactory(url=receiver.url())
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        answers = [service_client.post(_test_url(webhook)) for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1]["Retry-After"] == "1"
    assert "throttled" in answers[-1].json()["detail"]
    assert len(receiver.wait_for(5)) == 5

    with time_machine.travel(now + timedelta(seconds=1), tick=False):
        assert service_client.post(_test_url(webhook)).status_code == 200
        assert service_client.post(_test_url(webhook)).status_code == 429


def test_each_webhook_has_its_own_bucket(service_client, receiver):
    busy, other = WebhookFactory(url=receiver.url()), WebhookFactory(url=receiver.url())
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(5):
            service_client.post(_test_url(busy))
        assert service_client.post(_test_url(busy)).status_code == 429
        assert service_client.post(_test_url(other)).status_code == 200


def test_the_bucket_refills_at_the_configured_rate(webhooks_settings):
    webhooks_settings(TEST_PING_RATE_PER_SECOND=0.5, TEST_PING_BURST=2)
    webhook = WebhookFactory()
    now = timezone.now()

    assert [take_test_ping(webhook, now) for _ in range(3)] == [0, 0, pytest.approx(2.0)]
    assert take_test_ping(webhook, now + timedelta(seconds=1)) == pytest.approx(1.0)
    assert take_test_ping(webhook, now + timedelta(seconds=2)) == 0


def test_the_admin_action_is_throttled_too(client, receiver):
    webhook = WebhookFactory(url=receiver.url())
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(5):
            take_test_ping(webhook)
        response = client.post(
            "/admin/webhooks/webhook/",
            {"action": "send_test", "_selected_action": [webhook.id]},
            follow=True,
        )

    texts = [str(m) for m in response.context["messages"]]
    assert any("too many tests" in t for t in texts), texts
    assert "Sent 0 test events; 0 succeeded." in texts
