"""Test pings are throttled per webhook (1 a second on average, bursts of 5) and per web process
(at most half its threads at once), else 429 with Retry-After: in the API, admin and portal."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from gunicorn.config import Config

from tests.factories import WebhookFactory
from tests.portal_support import portal
from tests.receiver import Reply
from webhooks import webserver
from webhooks.checks.pings import _check_test_pings
from webhooks.models import Delivery
from webhooks.observability.gunicorn_logger import JsonAwareLogger
from webhooks.services.ping_throttle import ping_slot, share_size, take_test_ping

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
    assert any(
        t.startswith(f"{webhook.name}: Test pings to this webhook are throttled") for t in texts
    ), texts
    assert "Sent 0 test events; 0 succeeded." in texts


@pytest.fixture
def one_place(webhooks_settings):
    """A web process of 2 threads: its share (half) is one test ping at a time."""
    webhooks_settings(WEB_THREADS_PER_PROCESS=2, DELIVERY_TIMEOUT_SECONDS=7.0)


def test_beyond_the_process_share_the_api_answers_429_at_once(one_place, service_client, receiver):
    webhook, busy = WebhookFactory(url=receiver.url()), WebhookFactory(url=receiver.url())

    with ping_slot(busy):  # another request's ping waits for its endpoint
        refused = service_client.post(_test_url(webhook))

    assert refused.status_code == 429
    assert refused["Retry-After"] == "7"  # the running ping ends by its 7 s deadline
    assert refused.json() == {
        "detail": "Too many test pings at once: this server sends at most 1 at a time, each "
        "waiting for its endpoint; try again shortly."
    }
    assert not Delivery.objects.filter(webhook=webhook).exists()
    # nothing was taken from the webhook's own bucket: its 5 back to back are all there
    with time_machine.travel(timezone.now(), tick=False):
        answers = [service_client.post(_test_url(webhook)).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    assert len(receiver.wait_for(5)) == 5


def test_the_portal_shows_why_a_ping_was_not_sent(one_place, receiver):
    webhook, busy = WebhookFactory(url=receiver.url()), WebhookFactory(url=receiver.url())
    path = f"/portal/webhooks/{webhook.id}/test"
    client = portal(webhook.project_id)

    with ping_slot(busy):
        page = client.form(path)
        fragment = client.form(path, HTTP_HX_REQUEST="true")

    assert page.status_code == 429 and page["Retry-After"] == "7"
    assert "Not sent" in page.content.decode()
    assert "Too many test pings at once" in page.content.decode()
    # htmx swaps only 2xx answers into the page, so the fragment comes with a 200
    assert fragment.status_code == 200 and fragment["Retry-After"] == "7"
    assert "Too many test pings at once" in fragment.content.decode()
    assert not Delivery.objects.filter(webhook=webhook).exists()


def test_the_admin_action_reports_the_process_share_too(one_place, client, receiver):
    webhook, busy = WebhookFactory(url=receiver.url()), WebhookFactory(url=receiver.url())
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))

    with ping_slot(busy):
        response = client.post(
            "/admin/webhooks/webhook/",
            {"action": "send_test", "_selected_action": [webhook.id]},
            follow=True,
        )

    texts = [str(m) for m in response.context["messages"]]
    assert f"{webhook.name}: Too many test pings at once" in texts[0], texts
    assert texts[-1] == "Sent 0 test events; 0 succeeded."


def test_the_admin_action_stops_once_slow_endpoints_used_a_deadline(
    webhooks_settings, client, receiver
):
    webhooks_settings(DELIVERY_TIMEOUT_SECONDS=0.5)
    receiver.default = Reply(delay=1.0)  # every endpoint hangs past the deadline
    hooks = [WebhookFactory(url=receiver.url(f"/slow/{n}")) for n in range(3)]
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))

    response = client.post(
        "/admin/webhooks/webhook/",
        {"action": "send_test", "_selected_action": [h.id for h in hooks]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    stopped = "2 not tested: the endpoints before them used the action's 0.5 s; test those again."
    assert stopped in texts
    assert texts[-1] == "Sent 1 test events; 0 succeeded."
    assert Delivery.objects.filter(trigger="test").count() == 1


def test_the_share_is_half_the_threads_gunicorn_reports(webhooks_settings, monkeypatch):
    monkeypatch.setattr(webserver, "_reported_threads", None)
    cfg = Config()
    cfg.set("threads", 8)

    JsonAwareLogger(cfg)  # gunicorn's master sets up its logger class with its configuration

    assert webserver.reported_threads() == 8
    assert share_size() == 4
    webhooks_settings(WEB_THREADS_PER_PROCESS=3)  # another server: the setting says
    assert share_size() == 1
    webhooks_settings(WEB_THREADS_PER_PROCESS=3, TEST_PING_WEB_THREADS_RATIO=1.0)
    assert share_size() == 3


def test_a_server_that_reports_nothing_gets_the_procfiles_four_threads(monkeypatch):
    monkeypatch.setattr(webserver, "_reported_threads", None)
    assert share_size() == 2


@pytest.mark.parametrize(
    ("values", "ids"),
    [
        ({}, []),
        ({"TEST_PING_WEB_THREADS_RATIO": 0}, ["webhooks.E080"]),
        ({"TEST_PING_WEB_THREADS_RATIO": 1.5}, ["webhooks.E080"]),
        ({"WEB_THREADS_PER_PROCESS": 0}, ["webhooks.E081"]),
        ({"WEB_THREADS_PER_PROCESS": "4"}, ["webhooks.E081"]),
    ],
)
def test_the_share_settings_are_checked(webhooks_settings, values, ids):
    webhooks_settings(**values)
    errors = _check_test_pings()
    assert [e.id for e in errors] == ids
    assert all(e.hint for e in errors)


def test_the_webhook_pages_test_button_reports_the_process_share_too(one_place, client, receiver):
    webhook, busy = WebhookFactory(url=receiver.url()), WebhookFactory(url=receiver.url())
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))

    with ping_slot(busy):
        response = client.post(f"/admin/webhooks/webhook/{webhook.id}/test/", follow=True)

    texts = [str(m) for m in response.context["messages"]]
    assert len(texts) == 1, texts
    assert texts[0].startswith(f"{webhook.name}: Too many test pings at once"), texts
    assert receiver.requests == []  # nothing sent
