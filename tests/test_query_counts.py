"""SQL statements per lane batch, per attempt and per emit, counted: the guard behind
docs/performance.md.

On PostgreSQL a lane's batch is two statements whatever its size (claim, record), plus one to
take the lane and one to give it back; a single attempt outside a lane (a test ping) is two; a
change of the webhook's health costs one more. An emit is one statement whatever its fan-out
(the event with its deliveries, checking the subscriptions it matched against; two the first
time a process emits for the project). And a request's wake-ups wait for its response, so its
deliveries don't slow it down.
"""

import uuid
from datetime import timedelta

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.engine import lanes, wakeups
from webhooks.engine.lanes import deliver
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.services.emit import emit_webhook_event

pytestmark = pytest.mark.django_db

Status = Delivery.Status
# BEGIN/COMMIT around an emit; SAVEPOINTs where the test's own transaction encloses it.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def hook(receiver):
    return WebhookFactory(url=receiver.url(), headers={"X-Team": "search"})


def make_delivery(webhook) -> Delivery:
    return DeliveryFactory(webhook=webhook, event=EventFactory(project_id=webhook.project_id))


def statements(action) -> tuple[object, list[str]]:
    """Run action; return its result and the SQL it sent, transaction control left out."""
    with CaptureQueriesContext(connection) as captured:
        result = action()
    sent = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    return result, sent


def test_a_successful_attempt_is_two_statements(receiver, hook):
    delivery = make_delivery(hook)

    attempt, sent = statements(lambda: deliver(delivery.id))

    assert len(sent) == 2, sent
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Status.SUCCEEDED, 1)
    assert attempt.pk and DeliveryAttempt.objects.get(pk=attempt.pk).response_status == 200
    (got,) = receiver.requests
    StandardWebhook(hook.secret).verify(got.body, got.headers)  # the secret was decrypted
    assert got.headers["x-team"] == "search"  # the JSON headers were parsed


def test_a_change_of_webhook_health_costs_one_statement_more(receiver, hook):
    first, second = make_delivery(hook), make_delivery(hook)
    receiver.reply_with(500, 500, 200)

    _, first_failure = statements(lambda: deliver(first.id))  # the webhook starts failing
    # already failing: one statement counts the failure in a row (the circuit breaker's)
    _, again = statements(lambda: deliver(second.id))
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=None)
    _, recovery = statements(lambda: deliver(first.id))  # it answers again

    assert [len(first_failure), len(again), len(recovery)] == [3, 3, 3]
    assert Webhook.objects.get(pk=hook.pk).failing_since is None
    assert Delivery.objects.get(pk=second.pk).status == Status.PENDING  # a retry is scheduled


def test_a_duplicate_message_is_one_statement_and_sends_nothing(receiver, hook):
    delivery = make_delivery(hook)
    deliver(delivery.id)

    result, sent = statements(lambda: deliver(delivery.id))

    assert result is None
    assert len(sent) == 1
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("count", [1, 20, 50])
def test_a_lane_batch_is_one_statement_whatever_its_size(receiver, hook, count, webhooks_settings):
    # A slow test receiver; a lane that lingers: tests/test_linger.py.
    webhooks_settings(LANE_TIME_SLICE_SECONDS=30, LEASE_SECONDS=60, LANE_LINGER_SECONDS=0)
    lanes.run_lane(hook.id)  # its first wake-up makes the lane slots
    for _ in range(count + 1):
        make_delivery(hook)

    sent_count, sent = statements(lambda: lanes.run_lane(hook.id))

    # take the lane and claim the first; record it and claim the rest; record them and give
    # the lane back; then wake whoever waits for it
    assert sent_count == count + 1
    assert len(sent) == 4, [q[:40] for q in sent]
    assert set(Delivery.objects.filter(webhook=hook).values_list("status", flat=True)) == {
        Status.SUCCEEDED
    }


def test_a_wake_up_for_a_webhook_whose_lanes_are_all_held_is_two_statements(hook):
    Webhook.objects.filter(pk=hook.pk).update(max_in_flight=1)
    lanes.run_lane(hook.id)  # makes the slot
    hook.lanes.update(expires_at=timezone.now() + timedelta(seconds=30))  # another worker's
    make_delivery(hook)

    result, sent = statements(lambda: lanes.run_lane(hook.id))

    # join the waiting list, then look once more (a release may have missed it)
    assert (result, len(sent)) == (0, 2)


@pytest.mark.parametrize("hooks", [1, 50])
def test_an_emit_is_one_statement_whatever_its_fan_out(hooks):
    project = uuid.uuid4()
    WebhookFactory.create_batch(hooks, project_id=project)
    data = EVENT_TYPES["config.deployed"].example
    _, first = statements(lambda: emit_webhook_event(project, "config.deployed", data))

    event, sent = statements(lambda: emit_webhook_event(project, "config.deployed", data))

    assert len(first) == 2, first  # this process reads the project's subscriptions first
    assert len(sent) == 1, sent  # the event with its deliveries, the subscriptions checked
    rows = Delivery.objects.filter(event=event)
    assert rows.count() == event.delivery_count == hooks
    assert {r.status for r in rows} == {Status.PENDING}
    assert all(r.next_attempt_at for r in rows)


@pytest.mark.django_db(transaction=True)
def test_an_emit_outside_a_transaction_sends_no_transaction_control():
    # the event and its deliveries are one statement, a transaction by itself: no BEGIN, COMMIT
    project = uuid.uuid4()
    WebhookFactory.create_batch(2, project_id=project)
    data = EVENT_TYPES["config.deployed"].example
    emit_webhook_event(project, "config.deployed", data)

    with CaptureQueriesContext(connection) as captured:
        event = emit_webhook_event(project, "config.deployed", data)

    assert len(captured.captured_queries) == 1, captured.captured_queries
    assert Delivery.objects.filter(event=event, status=Status.PENDING).count() == 2


# --- an emit's response is not slowed down by its own deliveries --------------------------------


def test_wake_ups_from_a_request_go_out_once_its_response_is_sent(
    monkeypatch, django_capture_on_commit_callbacks
):
    woken = []
    monkeypatch.setattr(wakeups, "wake", woken.append)
    # As Django's test client does: these would close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        request_started.send(sender=None)
        with django_capture_on_commit_callbacks(execute=True):
            wakeups.wake_after_commit(["a", "b"])
            wakeups.wake_after_commit(["b"])
        assert woken == []  # the worker would compete with the response for the CPU
        request_finished.send(sender=None)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert woken == [["a", "b"]]  # once each

    with django_capture_on_commit_callbacks(execute=True):  # outside a request: at once
        wakeups.wake_after_commit(["c"])
    assert woken == [["a", "b"], ["c"]]
