"""What started each attempt stays on the history: test, manual and recover attempts, through
the real engine and a real receiver; only automatic attempts move the retry schedule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import EventFactory, WebhookFactory
from webhooks.conf import app_settings
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery
from webhooks.services.testing import send_test

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(receiver):
    return WebhookFactory(url=receiver.url("/hook"))


@pytest.fixture
def writer(make_key_client, hook):
    return make_key_client(hook.project_id, ("webhooks:read", "webhooks:write"))


def _base(hook) -> str:
    return f"/api/projects/{hook.project_id}/webhooks/{hook.id}"


def _history(writer, hook, delivery_id) -> dict:
    return writer.get(f"{_base(hook)}/deliveries/{delivery_id}").json()


def _due_now(delivery_id) -> None:
    """Let the scheduled wait pass (the tests' schedule is in tenths of seconds anyway)."""
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())


def test_a_failed_test_ping_retried_through_the_api_is_a_manual_attempt_of_a_test(
    writer, hook, receiver
):
    receiver.reply_with(500)  # then 200, the receiver's default
    ping = send_test(hook)

    assert writer.post(f"{_base(hook)}/deliveries/{ping.delivery_id}/retry").status_code == 202
    deliver(ping.delivery_id)

    shown = _history(writer, hook, ping.delivery_id)
    assert (shown["trigger"], shown["status"]) == ("test", "succeeded")
    assert [(a["trigger"], a["response_status"]) for a in shown["attempts"]] == [
        ("test", 500),
        ("manual", 200),
    ]
    assert [r.headers["x-agenta-event"] for r in receiver.requests] == ["webhook.test"] * 2
    listed = writer.get(f"{_base(hook)}/deliveries").json()["results"]
    assert [d["trigger"] for d in listed] == ["test"]


def test_retry_now_is_manual_and_leaves_the_automatic_schedule_where_it_was(writer, hook, receiver):
    # given a delivery whose first two automatic attempts failed
    receiver.reply_with(503, 503, 503, 503)
    delivery = Delivery.objects.create(
        webhook=hook, event=EventFactory(project_id=hook.project_id), next_attempt_at=timezone.now()
    )
    deliver(delivery.id)
    _due_now(delivery.id)
    deliver(delivery.id)
    schedule = app_settings.RETRY_SCHEDULE_SECONDS  # jitter 0 in the tests' settings

    # when "Retry now" is pressed and that attempt fails too
    assert writer.post(f"{_base(hook)}/deliveries/{delivery.id}/retry").status_code == 202
    before = timezone.now()
    deliver(delivery.id)

    # then it is recorded as manual, and the next wait is the 2nd's again, not the 3rd's
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert schedule[1] - 0.1 <= wait <= schedule[1] + 0.5
    assert wait < schedule[2]
    assert (delivery.status, delivery.trigger, delivery.auto_attempt_count) == (
        "pending",
        "auto",
        2,
    )
    # and the automatic attempt that follows is the schedule's 3rd
    _due_now(delivery.id)
    before = timezone.now()
    deliver(delivery.id)
    delivery.refresh_from_db()
    assert schedule[2] - 0.1 <= (delivery.next_attempt_at - before).total_seconds()
    triggers = [a["trigger"] for a in _history(writer, hook, delivery.id)["attempts"]]
    assert triggers == ["auto", "auto", "manual", "auto"]
    assert len(receiver.requests) == 4


def test_recover_attempts_are_recorded_as_recover_and_skip_test_pings(writer, hook, receiver):
    # given an event delivery whose schedule ran out, and a failed test ping
    receiver.reply_with(500)  # then 200, the receiver's default
    ping = send_test(hook)
    exhausted = Delivery.objects.create(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        status="failed",
        attempt_count=7,
        auto_attempt_count=7,
    )

    # when the webhook is recovered without a window (the default: the last day)
    response = writer.post(f"{_base(hook)}/recover", {}, format="json")
    deliver(exhausted.id)

    # then only the event delivery is sent again, as a recover attempt
    assert (response.status_code, response.json()) == (202, {"count": 1})
    shown = _history(writer, hook, exhausted.id)
    assert (shown["trigger"], shown["status"]) == ("recover", "succeeded")
    assert [a["trigger"] for a in shown["attempts"]] == ["recover"]
    assert Delivery.objects.get(pk=ping.delivery_id).status == "failed"
    assert [r.headers["x-agenta-event"] for r in receiver.requests] == [
        "webhook.test",
        "config.deployed",
    ]


def test_recover_without_since_reaches_back_the_default_window(writer, hook, webhooks_settings):
    webhooks_settings(RECOVER_DEFAULT_DAYS=2)
    event = EventFactory(project_id=hook.project_id)
    inside = Delivery.objects.create(webhook=hook, event=event, status="failed")
    outside = Delivery.objects.create(
        webhook=hook, event=EventFactory(project_id=hook.project_id), status="failed"
    )
    Delivery.objects.filter(pk=inside.pk).update(created_at=timezone.now() - timedelta(days=1))
    Delivery.objects.filter(pk=outside.pk).update(created_at=timezone.now() - timedelta(days=3))

    response = writer.post(f"{_base(hook)}/recover", {}, format="json")

    assert response.json() == {"count": 1}
    assert {d.pk: d.status for d in Delivery.objects.all()} == {
        inside.pk: "pending",
        outside.pk: "failed",
    }
