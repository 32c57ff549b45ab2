"""Endpoint lanes against a real receiver: batches, the in-flight cap, time slices, failures."""

import logging
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Reply
from tests.support import spoil_secret
from webhooks import wire
from webhooks.engine import lanes
from webhooks.models import Delivery, DeliveryAttempt, Lane

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def due_deliveries(webhook, count: int, **fields) -> list[Delivery]:
    now = timezone.now()
    return [
        DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=webhook.project_id),
            next_attempt_at=now - timedelta(seconds=count - n),  # oldest first
            **fields,
        )
        for n in range(count)
    ]


def woken_before(hook) -> None:
    """Wake the webhook once with nothing due: its first wake-up makes its lane slots."""
    with CaptureQueriesContext(connection) as queries:
        assert lanes.run_lane(hook.id) == 0
    # no slot taken, slots made, one taken with nothing due, given back, the waiting list read
    assert len(queries) == 5


def test_a_lane_sends_every_due_delivery_oldest_first_in_four_statements(
    receiver, woken, webhooks_settings
):
    webhooks_settings(LANE_LINGER_SECONDS=0)  # a lane that lingers: tests/test_linger.py
    # given five due deliveries of one webhook, and one not due yet
    hook = WebhookFactory(url=receiver.url())
    woken_before(hook)
    rows = due_deliveries(hook, 5)
    later = DeliveryFactory(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    # when a worker runs the webhook's lane
    with CaptureQueriesContext(connection) as queries:
        sent = lanes.run_lane(hook.id)
    # then all five went out in due order: the first at once (acquire and claim it), the
    # other four in one batch (claimed with the first's record), their record gave the lane
    # back in its statement, and the waiting list was read after it
    assert sent == 5
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [str(d.id) for d in rows]
    assert len(queries) == 4, [q["sql"][:60] for q in queries]
    assert set(
        Delivery.objects.filter(pk__in=[d.pk for d in rows]).values_list("status", flat=True)
    ) == {Status.SUCCEEDED}
    assert all(d.attempt_count == 1 for d in Delivery.objects.filter(pk__in=[d.pk for d in rows]))
    later.refresh_from_db()
    assert later.status == Status.PENDING
    # and the lane was given back
    assert not Lane.objects.filter(webhook=hook, expires_at__gt=timezone.now()).exists()


@pytest.mark.django_db(transaction=True)
def test_no_more_than_max_in_flight_attempts_of_a_webhook_at_once(receiver):
    # given a slow endpoint with a cap of 2, and 6 due deliveries
    receiver.default = Reply(delay=0.3)
    hook = WebhookFactory(url=receiver.url(), max_in_flight=2)
    due_deliveries(hook, 6)
    results = []

    def worker():
        try:
            results.append(lanes.run_lane(hook.id))
        finally:
            connection.close()

    # when five workers are woken for it at once
    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then at most two requests were ever in flight, and all six were sent once
    assert receiver.max_in_flight == 2
    assert sum(results) == 6
    assert results.count(0) >= 3  # the others dropped their wake-up
    assert len(receiver.requests) == 6
    assert Delivery.objects.filter(webhook=hook, status=Status.SUCCEEDED).count() == 6


def test_a_lane_held_by_a_killed_worker_frees_itself_when_its_lease_ends(receiver):
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    due_deliveries(hook, 1)
    held = Lane.objects.create(
        webhook=hook,
        slot=0,
        token=uuid.uuid4(),  # a worker that was killed while holding it
        expires_at=timezone.now() + timedelta(seconds=30),
    )
    assert lanes.run_lane(hook.id) == 0  # held: the wake-up is dropped
    Lane.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert lanes.run_lane(hook.id) == 1


def test_the_default_cap_comes_from_settings(receiver, webhooks_settings):
    webhooks_settings(MAX_IN_FLIGHT_PER_WEBHOOK=1)
    hook = WebhookFactory(url=receiver.url())
    due_deliveries(hook, 1)
    Lane.objects.create(
        webhook=hook, slot=0, token=hook.id, expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert lanes.run_lane(hook.id) == 0
    webhooks_settings(MAX_IN_FLIGHT_PER_WEBHOOK=2)
    assert lanes.run_lane(hook.id) == 1


def test_a_lane_gives_its_thread_back_after_its_time_slice(receiver, webhooks_settings, woken):
    # given a 0.5 s time slice and an endpoint that answers at once, then takes 0.3 s each time
    webhooks_settings(LANE_TIME_SLICE_SECONDS=0.5)
    receiver.reply_with(Reply(delay=0))
    receiver.default = Reply(delay=0.3)
    hook = WebhookFactory(url=receiver.url())
    rows = due_deliveries(hook, 5)
    # when the lane runs: the quick first answer makes it claim the other four at once
    sent = lanes.run_lane(hook.id)
    # then it sent three, gave the last two back unsent and due as before, and woke the webhook
    assert sent == 3
    rest = Delivery.objects.filter(pk__in=[d.pk for d in rows[3:]]).order_by("next_attempt_at")
    assert [(d.status, d.attempt_count, d.locked_until) for d in rest] == [
        (Status.PENDING, 0, None)
    ] * 2
    assert [d.next_attempt_at for d in rest] == [d.next_attempt_at for d in rows[3:]]
    assert set(woken) == {str(hook.id)}
    assert not DeliveryAttempt.objects.filter(delivery__in=rest).exists()
    # and the next worker carries on in order
    assert lanes.run_lane(hook.id) >= 1
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [str(d.id) for d in rows][: len(ids)]


def test_an_error_after_the_claim_is_an_internal_error_attempt(receiver, monkeypatch, caplog):
    hook = WebhookFactory(url=receiver.url())
    (delivery,) = due_deliveries(hook, 1)

    def broken(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(wire, "request_headers", broken)
    with caplog.at_level(logging.ERROR):
        assert lanes.run_lane(hook.id) == 1
    delivery.refresh_from_db()
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert (attempt.error_kind, attempt.response_status) == ("internal_error", None)
    assert "KeyError" in attempt.error_message
    # a failure under the retry policy, the lease released, nothing sent
    assert (delivery.status, delivery.attempt_count, delivery.locked_until) == (
        Status.PENDING,
        1,
        None,
    )
    assert delivery.next_attempt_at is not None
    assert receiver.requests == []
    hook.refresh_from_db()
    assert hook.failing_since is None  # our error, not the endpoint's


def test_an_undecryptable_secret_ends_in_internal_errors_then_fails(receiver, webhooks_settings):
    # given a webhook whose stored secret no configured key can decrypt
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[0.01, 0.01])
    hook = WebhookFactory(url=receiver.url())
    spoil_secret(hook)
    (delivery,) = due_deliveries(hook, 1)
    # when its lane runs on the retry schedule
    for _ in range(3):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        lanes.run_lane(hook.id)
    # then each attempt is recorded as an internal error, and the last ends it
    delivery.refresh_from_db()
    kinds = list(
        DeliveryAttempt.objects.filter(delivery=delivery).values_list("error_kind", flat=True)
    )
    assert kinds == ["internal_error"] * 3
    assert (delivery.status, delivery.attempt_count) == (Status.FAILED, 3)
    assert receiver.requests == []


def test_a_delivery_deleted_during_its_attempt_is_dropped_without_an_error(
    receiver, monkeypatch, caplog
):
    hook = WebhookFactory(url=receiver.url())
    (delivery,) = due_deliveries(hook, 1)
    real_send = lanes.sender.transport.send

    def send_then_delete(*args):
        outcome = real_send(*args)
        Delivery.objects.filter(pk=delivery.pk).delete()  # retention, meanwhile
        return outcome

    monkeypatch.setattr(lanes.sender.transport, "send", send_then_delete)
    with caplog.at_level(logging.WARNING):
        assert lanes.run_lane(hook.id) == 1
    assert f"delivery {delivery.pk} was deleted during its attempt" in caplog.text
    assert not DeliveryAttempt.objects.filter(delivery_id=delivery.pk).exists()
    assert "Traceback" not in caplog.text


def test_manual_and_test_attempts_never_change_the_webhooks_health(receiver):
    hook = WebhookFactory(url=receiver.url())
    receiver.default = Reply(status=410)
    manual, ping = due_deliveries(hook, 2)
    Delivery.objects.filter(pk=manual.pk).update(trigger=Delivery.Trigger.MANUAL)
    Delivery.objects.filter(pk=ping.pk).update(trigger=Delivery.Trigger.TEST)
    assert lanes.run_lane(hook.id) == 2
    hook.refresh_from_db()
    assert (hook.is_active, hook.failing_since) == (True, None)
    assert set(Delivery.objects.filter(webhook=hook).values_list("status", flat=True)) == {
        Status.FAILED
    }
