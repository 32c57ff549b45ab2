"""A lane and the world around it: no wake-up lost while it gives its lane back, its webhook's
changes seen before each claim, and the circuit breaker that holds a failing webhook to one lane.
"""

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.processes import database_url
from tests.receiver import Receiver, Reply
from tests.support import wait_for
from webhooks.engine import lanes
from webhooks.models import Delivery, DeliveryAttempt, Lane, Webhook
from webhooks.services.webhooks import regenerate_secret, update_webhook

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def due_deliveries(webhook, count: int) -> list[Delivery]:
    now = timezone.now()
    return [
        DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=webhook.project_id),
            next_attempt_at=now - timedelta(seconds=count - n),  # oldest first
        )
        for n in range(count)
    ]


def after_first_send(monkeypatch, change) -> None:
    """Run change() once, right after the lane's first request was answered."""
    real_send, calls = lanes.sender.transport.send, []

    def send(*args):
        outcome = real_send(*args)
        calls.append(1)
        if len(calls) == 1:
            change()
        return outcome

    monkeypatch.setattr(lanes.sender.transport, "send", send)


@pytest.mark.django_db(transaction=True)
def test_a_wake_up_while_the_holder_makes_its_last_claim_is_not_lost(receiver, woken, monkeypatch):
    # given a webhook of one lane whose holder sends its one due delivery; once it is answered,
    # another session holds the lane's row, so the holder's last claim (which sees nothing due)
    # waits right there, between reading what is due and giving the lane back
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    due_deliveries(hook, 1)
    blocker = psycopg.connect(database_url())
    after_first_send(
        monkeypatch,
        lambda: blocker.execute(
            "SELECT 1 FROM webhooks_lane WHERE webhook_id = %s FOR UPDATE", [hook.pk]
        ),
    )

    def holder():
        try:
            lanes.run_lane(hook.id)
        finally:
            connection.close()

    running = threading.Thread(target=holder)
    running.start()
    try:
        wait_for(_a_lane_update_waits, 10, "the holder's last claim to wait")
        # when a new delivery is committed and its wake-up arrives while the lane is still held
        (late,) = due_deliveries(hook, 1)
        assert lanes.run_lane(hook.id) == 0  # the lane is held: this wake-up is dropped
        assert woken == []
    finally:
        blocker.rollback()  # the holder's claim goes on: nothing due in what it read
        running.join(10)
        blocker.close()
    # then giving the lane back woke the webhook again, and that wake-up sends the delivery
    assert woken == [str(hook.id)]
    assert lanes.run_lane(hook.id) == 1
    assert [r.headers["webhook-id"] for r in receiver.requests][-1] == str(late.pk)


def _a_lane_update_waits() -> bool:
    # The claim_next statement, alone or after a record (its text may be cut at
    # track_activity_query_size: its start).
    with connection.cursor() as cursor:  # autocommit: each look is a fresh activity snapshot
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND (query LIKE %s OR query LIKE %s) AND datname = current_database()",
            ["WITH\ndue AS (%", "WITH\nv AS (%"],
        )
        return cursor.fetchone()[0] > 0


def test_a_lane_sends_to_the_new_url_after_a_change_mid_slice(receiver, monkeypatch):
    moved = Receiver().start()
    try:
        hook = WebhookFactory(url=receiver.url())
        rows = due_deliveries(hook, 3)
        after_first_send(monkeypatch, lambda: update_webhook(hook, url=moved.url("/moved")))

        assert lanes.run_lane(hook.id) == 3

        assert [r.headers["webhook-id"] for r in receiver.requests] == [str(rows[0].pk)]
        assert [r.headers["webhook-id"] for r in moved.requests] == [str(r.pk) for r in rows[1:]]
        urls = DeliveryAttempt.objects.filter(delivery__in=rows[1:]).values_list("request_url")
        assert {url.split("/")[2] for (url,) in urls} == {f"127.0.0.1:{moved.port}"}
    finally:
        moved.stop()


def test_a_secret_regenerated_without_grace_signs_the_next_batch(receiver, monkeypatch):
    hook = WebhookFactory(url=receiver.url())
    old_secret = hook.secret
    due_deliveries(hook, 3)
    after_first_send(monkeypatch, lambda: regenerate_secret(hook, grace_period_seconds=0))

    assert lanes.run_lane(hook.id) == 3

    new_secret = Webhook.objects.get(pk=hook.pk).secret
    first, *rest = receiver.requests
    StandardWebhook(old_secret).verify(first.body, first.headers)
    for got in rest:
        StandardWebhook(new_secret).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            StandardWebhook(old_secret).verify(got.body, got.headers)


def test_a_webhook_deactivated_mid_slice_gets_nothing_more(receiver, monkeypatch):
    hook = WebhookFactory(url=receiver.url())
    rows = due_deliveries(hook, 3)
    after_first_send(monkeypatch, lambda: update_webhook(hook, is_active=False))

    lanes.run_lane(hook.id)

    assert len(receiver.requests) == 1
    kinds = [DeliveryAttempt.objects.get(delivery=row).error_kind for row in rows]
    assert kinds == ["", "webhook_disabled", "webhook_disabled"]
    assert [Delivery.objects.get(pk=row.pk).status for row in rows] == [
        Status.SUCCEEDED,
        Status.FAILED,
        Status.FAILED,
    ]


def test_failures_in_a_row_open_the_circuit_and_a_success_closes_it(receiver, webhooks_settings):
    # given a webhook of 4 lanes whose endpoint fails three times, then answers
    webhooks_settings(CIRCUIT_BREAKER_FAILURES=3, RETRY_SCHEDULE_SECONDS=[60] * 6)
    hook = WebhookFactory(url=receiver.url(), max_in_flight=4)
    (delivery,) = due_deliveries(hook, 1)
    receiver.reply_with(500, 503, 500)

    def attempt():
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        lanes.run_lane(hook.id)
        return Webhook.objects.get(pk=hook.pk)

    # when it fails twice, the circuit stays closed; the third failure opens it
    assert [attempt().consecutive_failures for _ in range(2)] == [1, 2]
    opened = attempt()
    assert opened.consecutive_failures == 3 and opened.circuit_open_since is not None
    # then one lane only: with slot 0 held, a wake-up gets none of the other three
    due_deliveries(hook, 1)
    Lane.objects.filter(webhook=hook, slot=0).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    assert lanes.run_lane(hook.id) == 0
    # and once an attempt succeeds, it is closed again
    Lane.objects.filter(webhook=hook).update(expires_at=timezone.now())
    healed = attempt()
    assert (healed.consecutive_failures, healed.circuit_open_since) == (0, None)
    assert Delivery.objects.get(pk=delivery.pk).status == Status.SUCCEEDED


def test_a_slow_endpoint_that_times_out_counts_as_failing(receiver, webhooks_settings):
    webhooks_settings(
        CIRCUIT_BREAKER_FAILURES=2,
        DELIVERY_TIMEOUT_SECONDS=0.3,
        LANE_TIME_SLICE_SECONDS=5,
        RETRY_SCHEDULE_SECONDS=[60] * 6,
    )
    receiver.default = Reply(delay=1.0)
    hook = WebhookFactory(url=receiver.url())
    rows = due_deliveries(hook, 2)

    lanes.run_lane(hook.id)

    hook.refresh_from_db()
    assert hook.consecutive_failures == 2 and hook.circuit_open_since is not None
    kinds = DeliveryAttempt.objects.filter(delivery__in=rows).values_list("error_kind", flat=True)
    assert list(kinds) == ["timeout", "timeout"]
