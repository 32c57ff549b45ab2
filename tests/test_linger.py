"""Lingering lanes (engine/linger.py): the next wake-up of a busy webhook is handed to the lane
that holds it, through Redis; nothing is lost when nothing comes, when Redis fails or when the
lane dies, and a lingering lane costs other webhooks and projects only what the issue allows.
"""

import threading
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Reply
from tests.support import wait_for
from webhooks import broker
from webhooks.engine import lanes, linger, sender, wakeups
from webhooks.engine import pgstatements as statements
from webhooks.engine.pgstore import PgStore
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Lane, LaneWaiter, Webhook
from webhooks.services.emit import emit_webhook_event

pytestmark = pytest.mark.django_db(transaction=True)

DATA = EVENT_TYPES["config.deployed"].example
NAMES = {
    getattr(statements, name): name
    for name in (
        "ACQUIRE",
        "ADD_SLOTS",
        "CLAIM_NEXT",
        "RELEASE",
        "WAITERS",
        "RECORD",
        "RECORD_AND_CLAIM_NEXT",
    )
}


@pytest.fixture
def lingering(webhooks_settings):
    webhooks_settings(LANE_LINGER_SECONDS=1.5, LANE_TIME_SLICE_SECONDS=10, LEASE_SECONDS=30)


@pytest.fixture
def statements_run(monkeypatch):
    """Record the name of every engine statement run, from any thread."""
    names: list[str] = []
    real = PgStore._run

    def run(self, template, params, **kwargs):
        names.append(NAMES.get(template, "other"))
        return real(self, template, params, **kwargs)

    monkeypatch.setattr(PgStore, "_run", run)
    return names


def redis_client() -> redis.Redis:
    return wakeups.redis_client()


def stream_length() -> int:
    return redis_client().xlen(broker.STREAM)


def due(webhook, count: int) -> list[Delivery]:
    now = timezone.now()
    return [
        DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=webhook.project_id),
            next_attempt_at=now - timedelta(seconds=count - n),
        )
        for n in range(count)
    ]


def lane_in_thread(webhook_id) -> tuple[threading.Thread, list]:
    sent: list = []

    def run():
        try:
            sent.append(lanes.run_lane(webhook_id))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, sent


def lingers(webhook) -> bool:
    return bool(redis_client().exists(wakeups.LINGER_KEY.format(webhook.id)))


def lingering_lane(webhook, receiver) -> tuple[threading.Thread, list]:
    """Start a lane of webhook that sends two deliveries in a row (busy) and then lingers."""
    due(webhook, 2)
    thread, sent = lane_in_thread(webhook.id)
    wait_for(lambda: lingers(webhook) and len(receiver.requests) == 2, 10, "the lane to linger")
    recorded = Delivery.objects.filter(webhook=webhook, status=Delivery.Status.SUCCEEDED)
    wait_for(lambda: recorded.count() == 2, 5, "the lane's records")  # then it waits
    return thread, sent


def test_a_busy_webhooks_next_event_is_handed_to_its_lingering_lane(
    receiver, lingering, statements_run
):
    # given a lane that sent two deliveries in a row (its webhook is busy) and now lingers
    hook = WebhookFactory(url=receiver.url())
    thread, sent = lingering_lane(hook, receiver)
    before, stream = len(statements_run), stream_length()
    # when two events are emitted, one after the other has arrived
    for n in (3, 4):
        event = emit_webhook_event(hook.project_id, "config.deployed", DATA)
        wait_for(lambda n=n: len(receiver.requests) == n, 5, f"delivery {n}")
        assert receiver.requests[-1].headers["webhook-id"] == str(event.deliveries.get().id)
    # then the lane sent them with no queue message, one statement each: the claim of 3, then
    # 3's record with 4's claim; 4's record is held while the lane lingers
    assert stream_length() == stream
    wait_for(lambda: lingers(hook), 5, "the lane to linger again")
    assert statements_run[before:] == ["CLAIM_NEXT", "RECORD_AND_CLAIM_NEXT"], statements_run
    assert event.deliveries.get().status == Delivery.Status.DELIVERING
    # and with nothing more coming, it records 4 in the statement that gives the lane back
    thread.join(5)
    assert sent == [4]
    assert not lingers(hook)
    assert not Lane.objects.filter(webhook=hook, expires_at__gt=timezone.now()).exists()
    assert statements_run[before + 2 :] == ["RECORD_AND_CLAIM_NEXT", "WAITERS"]
    assert set(Delivery.objects.filter(webhook=hook).values_list("status", flat=True)) == {
        "succeeded"
    }


def test_a_lingering_lane_records_each_batch_with_the_claim_of_the_next(
    receiver, lingering, statements_run
):
    # given a lingering lane
    hook = WebhookFactory(url=receiver.url())
    thread, sent = lingering_lane(hook, receiver)
    before = len(statements_run)
    receiver.reply_with(Reply(delay=0.5), Reply(delay=0.5))  # the next two are answered late
    # when two events come while it sends one (a batch of two follows), and one more while it
    # sends that batch
    emit_webhook_event(hook.project_id, "config.deployed", DATA)
    wait_for(lambda: len(receiver.requests) == 3, 5, "delivery 3")
    for _ in range(2):
        emit_webhook_event(hook.project_id, "config.deployed", DATA)
    wait_for(lambda: len(receiver.requests) == 4, 5, "delivery 4")
    emit_webhook_event(hook.project_id, "config.deployed", DATA)
    wait_for(lambda: len(receiver.requests) == 6, 5, "delivery 6")
    thread.join(5)
    # then each batch was recorded with the claim of the next, and the last with the release
    assert statements_run[before:] == [
        "CLAIM_NEXT",  # delivery 3
        "RECORD_AND_CLAIM_NEXT",  # its record; 4 and 5
        "RECORD_AND_CLAIM_NEXT",  # their record; 6
        "RECORD_AND_CLAIM_NEXT",  # its record, once nothing came: the lane given back
        "WAITERS",
    ], statements_run[before:]
    assert sent == [6]
    attempts = Delivery.objects.filter(webhook=hook).values_list("status", "attempt_count")
    assert sorted(attempts) == [("succeeded", 1)] * 6


def test_a_held_record_is_written_when_the_wait_ends_not_later(receiver, webhooks_settings):
    # given a lane that lingers for its webhook, 0.3 s at a time
    webhooks_settings(LANE_LINGER_SECONDS=0.3, LANE_TIME_SLICE_SECONDS=10)
    hook = WebhookFactory(url=receiver.url())
    thread, _ = lingering_lane(hook, receiver)
    # when one more event comes and is answered
    event = emit_webhook_event(hook.project_id, "config.deployed", DATA)
    wait_for(lambda: len(receiver.requests) == 3, 5, "delivery 3")
    answered = time.monotonic()
    # then its record waits for the lane's wait (held for the next claim), and no longer: it is
    # written in the statement that gives the lane back when the wait ends
    delivery = event.deliveries.get()
    assert delivery.status == Delivery.Status.DELIVERING
    wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="succeeded").exists(), 5, "record"
    )
    assert 0.25 <= time.monotonic() - answered < 1.0
    attempt = delivery.attempts.get()
    assert (attempt.number, attempt.response_status) == (1, 200)
    thread.join(5)
    assert not thread.is_alive()


def test_a_held_record_the_store_refuses_loses_no_outcome_and_the_lane_is_given_back(
    receiver, webhooks_settings, monkeypatch
):
    # given a lingering lane, and an answer whose record the database refuses (an attempt URL
    # longer than its column): the record is held through the wait, then written with the
    # statement that gives the lane back
    webhooks_settings(LANE_LINGER_SECONDS=0.3, LANE_TIME_SLICE_SECONDS=10)
    hook = WebhookFactory(url=receiver.url())
    thread, sent = lingering_lane(hook, receiver)
    monkeypatch.setattr(
        sender.wire, "redacted_url", lambda url: "https://poison.example.com/?" + "a" * 3000
    )
    # when one more event comes and is answered
    event = emit_webhook_event(hook.project_id, "config.deployed", DATA)
    thread.join(5)
    # then its attempt is recorded as an internal error, due again, and the lane is free
    assert sent == [3] and len(receiver.requests) == 3
    delivery = event.deliveries.get()
    (attempt,) = delivery.attempts.all()
    assert (attempt.error_kind, delivery.status) == ("internal_error", "pending")
    assert "could not be recorded (the endpoint answered HTTP 200)" in attempt.error_message
    assert not Lane.objects.filter(webhook=hook, expires_at__gt=timezone.now()).exists()
    assert not lingers(hook)


def test_a_lone_delivery_does_not_linger(receiver, lingering, statements_run):
    # given a webhook whose work comes seldom: one delivery
    hook = WebhookFactory(url=receiver.url())
    due(hook, 1)
    # when its lane runs
    started = time.monotonic()
    assert lanes.run_lane(hook.id) == 1
    # then it gave the lane back at once, as before lingering existed
    assert time.monotonic() - started < 1.0
    assert not lingers(hook)
    assert statements_run[-3:] == ["ACQUIRE", "RECORD_AND_CLAIM_NEXT", "WAITERS"]


def test_a_batch_that_changes_the_webhooks_health_is_recorded_before_the_next_claim(
    receiver, statements_run, webhooks_settings
):
    # A success of a healthy webhook waits for the next claim's statement; a failure is
    # recorded (and counted toward the circuit breaker) first, so the claim sees its circuit.
    webhooks_settings(LANE_LINGER_SECONDS=0)
    hook = WebhookFactory(url=receiver.url())
    due(hook, 3)
    receiver.reply_with(200, 200, 500)
    assert lanes.run_lane(hook.id) == 3
    assert statements_run[-5:] == [
        "ACQUIRE",  # the first, which succeeds
        "RECORD_AND_CLAIM_NEXT",  # its record, and the claim of the other two (the last fails)
        "RECORD",
        "CLAIM_NEXT",  # after the failure was counted: finds nothing due, gives the lane back
        "WAITERS",
    ], statements_run
    assert Webhook.objects.get(pk=hook.pk).consecutive_failures == 1


def test_a_wake_up_with_no_lane_lingering_goes_to_the_queue():
    webhook_id = str(uuid.uuid4())
    stream = stream_length()
    assert wakeups.wake([webhook_id]) == 1
    assert stream_length() == stream + 1
    assert not redis_client().exists(wakeups.HANDOFF_KEY.format(webhook_id))
    wakeups.taken(webhook_id)


def test_wake_ups_while_a_lane_lingers_are_one_hand_off_and_the_lane_stopping_finds_it(
    lingering,
):
    # given a lane that began to linger
    webhook_id, token = uuid.uuid4(), uuid.uuid4()
    linger.found_work(webhook_id)
    linger.found_work(webhook_id)
    listening = linger.Listening(webhook_id, token)
    assert listening.start(per_delivery=0.001)
    stream = stream_length()
    # when three wake-ups come before it waits (during its send, say)
    for _ in range(3):
        assert wakeups.wake([webhook_id]) == 1
    # then none went to the queue: they are one entry of its hand-off list (one claim finds all)
    assert stream_length() == stream
    assert redis_client().llen(wakeups.HANDOFF_KEY.format(webhook_id)) == 1
    # and stopping says some came meanwhile (the lane claims once more) and leaves nothing
    assert listening.stop() == 1
    assert not listening.active
    assert not redis_client().exists(wakeups.LINGER_KEY.format(webhook_id))
    assert not redis_client().exists(wakeups.HANDOFF_KEY.format(webhook_id))
    assert wakeups.wake([webhook_id]) == 1
    assert stream_length() == stream + 1  # not lingering any more: the queue again
    wakeups.taken(str(webhook_id))


def test_a_lane_of_a_slow_endpoint_does_not_linger(lingering):
    webhook_id = uuid.uuid4()
    linger.found_work(webhook_id)
    linger.found_work(webhook_id)
    listening = linger.Listening(webhook_id, uuid.uuid4())
    assert listening.start(per_delivery=0.001)
    # its endpoint became slow: more lanes at once serve it better than one lingering
    assert not listening.start(per_delivery=2.0)
    assert not listening.active
    assert not redis_client().exists(wakeups.LINGER_KEY.format(webhook_id))


def test_one_lane_of_a_webhook_lingers_and_a_process_has_few_lingering(
    lingering, webhooks_settings
):
    webhooks_settings(LANE_LINGER_PER_PROCESS=2)
    busy = [uuid.uuid4() for _ in range(3)]
    for webhook_id in busy:
        linger.found_work(webhook_id)
        linger.found_work(webhook_id)
    fast = 0.001  # seconds per delivery
    first = linger.Listening(busy[0], uuid.uuid4())
    assert first.start(fast)
    # a second lane of the same webhook does not linger (the first gets its wake-ups)
    assert not linger.Listening(busy[0], uuid.uuid4()).start(fast)
    second = linger.Listening(busy[1], uuid.uuid4())
    assert second.start(fast)
    # the process's share is taken: a third webhook's lane gives its thread back instead
    third = linger.Listening(busy[2], uuid.uuid4())
    assert not third.start(fast)
    first.stop()
    assert third.start(fast)
    second.stop()
    third.stop()


def test_a_webhook_whose_work_comes_seldom_does_not_linger(lingering):
    webhook_id = uuid.uuid4()
    linger.found_work(webhook_id)
    assert not linger.Listening(webhook_id, uuid.uuid4()).start(0.001)  # once: nothing to go by
    linger._state.arrivals[webhook_id] = (time.monotonic() - 5.0, time.monotonic())
    assert not linger.Listening(webhook_id, uuid.uuid4()).start(0.001)  # 5 s apart


def test_a_lingering_lane_gives_way_to_a_webhook_of_its_project_that_waits(
    receiver, lingering, webhooks_settings
):
    # given a project of one slot, whose first webhook's lane lingers
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=1)
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    other = WebhookFactory(url=receiver.url("/other"), project_id=hook.project_id, max_in_flight=1)
    thread, sent = lingering_lane(hook, receiver)
    # when the other webhook gets a delivery: its wake-up finds the project's one slot held
    (waiting,) = due(other, 1)
    assert lanes.run_lane(other.id) == 0
    assert LaneWaiter.objects.filter(webhook=other).exists()
    # then the lingering lane's next claim (for an event to both) sees it wait and gives the
    # slot back after that one delivery, and the other webhook goes next
    started = time.monotonic()
    event = emit_webhook_event(hook.project_id, "config.deployed", DATA)
    thread.join(5)
    assert not thread.is_alive() and sent == [3]
    assert time.monotonic() - started < 1.0  # without waiting out the linger (1.5 s here)
    assert lanes.run_lane(other.id) == 2
    ids = [r.headers["webhook-id"] for r in receiver.requests[-2:]]
    assert ids == [str(waiting.id), str(event.deliveries.get(webhook=other).id)]


def test_when_redis_fails_while_lingering_the_lane_claims_once_more(
    receiver, lingering, monkeypatch
):
    # given a lingering lane
    hook = WebhookFactory(url=receiver.url())
    thread, sent = lingering_lane(hook, receiver)
    # when Redis fails: a delivery is committed and its wake-up is lost
    monkeypatch.setattr(wakeups, "wake", lambda ids, force=False: 0)
    (late,) = due(hook, 1)
    monkeypatch.setattr(linger.wakeups, "redis_client", _failing_client)
    # then the lane's wait fails (at its next step), it claims once more and sends the delivery
    thread.join(5)
    assert not thread.is_alive()
    assert sent == [3]
    assert receiver.requests[-1].headers["webhook-id"] == str(late.id)


def _failing_client():
    raise redis.ConnectionError("Redis went away")


def test_a_wake_up_handed_to_a_lane_that_died_is_dropped_and_the_queue_takes_over():
    # given a linger key left by a lane whose worker was killed
    webhook_id = str(uuid.uuid4())
    redis_client().set(wakeups.LINGER_KEY.format(webhook_id), "dead", px=300)
    stream = stream_length()
    # then a wake-up meanwhile is handed to nobody
    assert wakeups.wake([webhook_id]) == 1
    assert stream_length() == stream
    # and once the key's lifetime is over, the next (the sweep's, say) goes to the queue
    redis_client().set(wakeups.LINGER_KEY.format(webhook_id), "dead", px=300)
    time.sleep(0.4)
    assert wakeups.wake([webhook_id]) == 1
    assert stream_length() == stream + 1
    wakeups.taken(webhook_id)
