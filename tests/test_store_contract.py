"""The engine's store contract, run against both stores: PostgreSQL SQL and the ORM (SQLite's).

Both run here on PostgreSQL; tests/test_embedded.py runs the ORM store on SQLite for real.
"""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.support import spoil_secret
from webhooks.engine import liveness, sender
from webhooks.engine.ormstore import OrmStore
from webhooks.engine.pgstore import PgStore
from webhooks.engine.store import Record, State
from webhooks.fields import is_undecryptable
from webhooks.models import Delivery, DeliveryAttempt, Event, Lane, Webhook

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture(params=[PgStore, OrmStore], ids=["postgresql", "orm"])
def store(request):
    return request.param()


def database_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def due(webhook, count=1, **fields) -> list[Delivery]:
    now = timezone.now()
    return [
        DeliveryFactory(
            webhook=webhook,
            event=EventFactory(project_id=webhook.project_id),
            next_attempt_at=now - timedelta(seconds=count - n),
            **fields,
        )
        for n in range(count)
    ]


def succeeded(delivery: Delivery) -> Record:
    attempt = DeliveryAttempt(
        delivery_id=delivery.pk,
        number=0,
        trigger=delivery.trigger,
        started_at=timezone.now(),
        duration_ms=5,
        request_url="https://hooks.example.com/x",
        request_headers={"webhook-id": str(delivery.pk)},
        response_status=200,
        response_headers={"content-type": "text/plain"},
        response_body="ok",
    )
    state = State(
        status=Status.SUCCEEDED,
        next_attempt_at=None,
        trigger=Delivery.Trigger.AUTO,
        last_status_code=200,
        delivered_at=timezone.now(),
    )
    return Record(
        delivery_id=delivery.pk, lease=delivery.locked_until, state=state, attempt=attempt
    )


def test_acquire_claims_the_oldest_due_deliveries_up_to_the_limit(store):
    hook = WebhookFactory()
    rows = due(hook, 3)
    DeliveryFactory(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )

    batch = store.acquire(hook.id, uuid.uuid4(), 2)

    assert [d.pk for d in batch.deliveries] == [rows[0].pk, rows[1].pk]
    assert batch.webhook.pk == hook.pk and batch.webhook.secret == hook.secret
    assert batch.deliveries[0].event.body == rows[0].event.body
    claimed = Delivery.objects.filter(pk__in=[rows[0].pk, rows[1].pk])
    assert {(d.status, d.locked_until > timezone.now()) for d in claimed} == {
        (Status.DELIVERING, True)
    }


def test_claims_and_lanes_name_the_worker_process_that_holds_them(store, monkeypatch):
    # given a worker process with a heartbeat
    worker = uuid.uuid4()
    monkeypatch.setattr(liveness, "worker_id", lambda: worker)
    hook = WebhookFactory()
    rows = due(hook, 2)
    # when it takes a lane and claims, and claims one outside any lane
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    store.claim_next(hook.id, token, 1)
    lone = due(WebhookFactory())[0]
    store.claim_one(lone.pk, None)
    # then every lease it holds says so, so liveness can end them when it dies
    held = Delivery.objects.filter(pk__in=[rows[0].pk, rows[1].pk, lone.pk])
    assert {(d.status, d.locked_by) for d in held} == {(Status.DELIVERING, worker)}
    assert Lane.objects.get(webhook=hook, expires_at__gt=timezone.now()).held_by == worker


def test_new_deliveries_are_due_by_the_database_clock_whatever_this_host_says(store):
    # given a host whose clock runs an hour ahead of the database's
    hook = WebhookFactory()
    event = EventFactory.build(project_id=hook.project_id)
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=True):
        # when it stores an event
        ((_, delivery_id),) = store.insert_event(event, lambda subscriptions: [hook.id])
    # then its delivery is due now for the database, and a lane claims it at once
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.next_attempt_at <= database_now()
    assert Event.objects.get(pk=event.pk).created_at == event.created_at <= database_now()
    assert [d.pk for d in store.acquire(hook.id, uuid.uuid4(), 5).deliveries] == [delivery_id]


def test_acquire_gives_at_most_max_in_flight_lanes(store):
    hook = WebhookFactory(max_in_flight=2)
    due(hook, 5)
    first = store.acquire(hook.id, uuid.uuid4(), 1)
    second = store.acquire(hook.id, uuid.uuid4(), 1)
    third = store.acquire(hook.id, uuid.uuid4(), 1)
    assert (len(first.deliveries), len(second.deliveries), third) == (1, 1, None)
    assert first.deliveries[0].pk != second.deliveries[0].pk


def test_a_lane_whose_lease_ended_can_be_taken_again(store):
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 2)
    assert store.acquire(hook.id, uuid.uuid4(), 1) is not None
    assert store.acquire(hook.id, uuid.uuid4(), 1) is None
    Lane.objects.filter(webhook=hook).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert store.acquire(hook.id, uuid.uuid4(), 1) is not None


def test_claim_next_claims_more_and_gives_the_lane_back_when_nothing_is_due(store):
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 3)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    assert len(store.claim_next(hook.id, token, 5).deliveries) == 2
    assert store.claim_next(hook.id, token, 5).deliveries == []  # and the lane is free now
    due(hook, 1)
    assert len(store.acquire(hook.id, uuid.uuid4(), 1).deliveries) == 1


def test_claim_next_claims_nothing_for_a_lane_it_lost(store):
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 2)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    Lane.objects.filter(webhook=hook).update(token=uuid.uuid4())  # expired and taken by another
    assert store.claim_next(hook.id, token, 5).deliveries == []


def test_claim_next_with_keep_keeps_an_idle_lane_for_the_next_delivery(store):
    # given a lane of a one-lane webhook whose due work is all claimed
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 1)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    # when it claims with keep and nothing is due
    batch = store.claim_next(hook.id, token, 5, keep=True)
    # then it keeps the lane (no other lane may be taken), and claims what comes next
    assert (batch.deliveries, batch.kept, batch.crowded) == ([], True, False)
    assert Lane.objects.get(webhook=hook).expires_at > database_now()
    assert store.acquire(hook.id, uuid.uuid4(), 1) is None
    (later,) = due(hook, 1)
    batch = store.claim_next(hook.id, token, 5, keep=True)
    assert [d.pk for d in batch.deliveries] == [later.pk] and not batch.kept
    assert batch.webhook is not None and batch.webhook.pk == hook.pk


def test_claim_next_with_keep_gives_way_to_a_webhook_of_the_project_that_waits(
    store, webhooks_settings
):
    # given a project of one slot, held by a lane with nothing due, and a sibling waiting
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=1)
    hook = WebhookFactory()
    sibling = WebhookFactory(project_id=hook.project_id)
    due(hook, 2)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    due(sibling, 1)
    assert store.acquire(sibling.id, uuid.uuid4(), 1) is None  # it waits now
    # when the lane claims with keep: its one due delivery, and it is told the sibling waits
    batch = store.claim_next(hook.id, token, 5, keep=True)
    assert len(batch.deliveries) == 1 and batch.crowded and not batch.kept
    # then with nothing due it gives the slot back instead of keeping it
    batch = store.claim_next(hook.id, token, 5, keep=True)
    assert (batch.deliveries, batch.kept, batch.crowded) == ([], False, True)
    assert store.acquire(sibling.id, uuid.uuid4(), 1) is not None


def test_claim_next_with_keep_keeps_no_lane_it_lost(store):
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 1)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    Lane.objects.filter(webhook=hook).update(token=uuid.uuid4())  # expired and taken by another
    batch = store.claim_next(hook.id, token, 5, keep=True)
    assert (batch.deliveries, batch.kept) == ([], False)


def test_record_inserts_the_attempt_numbered_by_the_count_and_applies_the_state(store):
    hook = WebhookFactory()
    due(hook, 1)
    (delivery,) = store.acquire(hook.id, uuid.uuid4(), 1).deliveries
    record = succeeded(delivery)

    assert store.record([record]) == {delivery.pk}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.locked_until) == (
        Status.SUCCEEDED,
        1,
        None,
    )
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.response_headers, attempt.request_headers["webhook-id"]) == (
        1,
        {"content-type": "text/plain"},
        str(delivery.pk),
    )
    assert record.attempt.number == 1


@pytest.mark.parametrize(
    ("trigger", "counted"), [("auto", 1), ("manual", 0), ("recover", 0), ("test", 0)]
)
def test_record_counts_only_automatic_attempts_in_the_schedule(store, trigger, counted):
    hook = WebhookFactory()
    due(hook, 1, trigger=trigger, attempt_count=2, auto_attempt_count=2)
    (delivery,) = store.acquire(hook.id, uuid.uuid4(), 1).deliveries

    store.record([succeeded(delivery)])

    delivery.refresh_from_db()
    assert (delivery.attempt_count, delivery.auto_attempt_count) == (3, 2 + counted)
    assert DeliveryAttempt.objects.get(delivery=delivery).trigger == trigger


def test_record_keeps_the_state_of_a_delivery_claimed_again_since(store):
    hook = WebhookFactory()
    due(hook, 1)
    (delivery,) = store.acquire(hook.id, uuid.uuid4(), 1).deliveries
    newer = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=newer)  # another worker's claim

    assert store.record([succeeded(delivery)]) == set()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.locked_until, delivery.attempt_count) == (
        Status.DELIVERING,
        newer,
        1,
    )  # its attempt is counted and kept; the state is not ours
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_record_gives_an_unsent_delivery_back_as_it_was(store):
    hook = WebhookFactory()
    (row,) = due(hook, 1)
    (delivery,) = store.acquire(hook.id, uuid.uuid4(), 1).deliveries

    assert store.record([sender.unsent(delivery)]) == {delivery.pk}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (
        Status.PENDING,
        0,
        row.next_attempt_at,
    )
    assert not DeliveryAttempt.objects.filter(delivery=delivery).exists()


def test_record_skips_a_delivery_deleted_meanwhile(store):
    hook = WebhookFactory()
    due(hook, 1)
    (delivery,) = store.acquire(hook.id, uuid.uuid4(), 1).deliveries
    Delivery.objects.filter(pk=delivery.pk).delete()
    assert store.record([succeeded(delivery)]) == set()
    assert not DeliveryAttempt.objects.exists()


def test_record_and_claim_next_records_the_batch_and_claims_the_next_in_one_go(store):
    # given a lane that sent its first delivery, with two more due
    hook = WebhookFactory()
    due(hook, 3)
    token = uuid.uuid4()
    (first,) = store.acquire(hook.id, token, 1).deliveries
    record = succeeded(first)
    # when it records the first and claims the next
    applied, batch = store.record_and_claim_next([record], hook.id, token, 5)
    # then the first is recorded (numbered) and the other two are claimed, with the webhook
    assert applied == {first.pk} and record.attempt.number == 1
    first.refresh_from_db()
    assert (first.status, first.attempt_count) == (Status.SUCCEEDED, 1)
    assert DeliveryAttempt.objects.filter(delivery=first).count() == 1
    assert len(batch.deliveries) == 2 and first.pk not in {d.pk for d in batch.deliveries}
    assert batch.webhook is not None and batch.webhook.pk == hook.pk
    # and recording those with nothing more due gives the lane back
    records = [succeeded(d) for d in batch.deliveries]
    applied, batch = store.record_and_claim_next(records, hook.id, token, 5)
    assert applied == {d.delivery_id for d in records}
    assert (batch.deliveries, batch.kept) == ([], False)
    assert not Lane.objects.filter(webhook=hook, expires_at__gt=database_now()).exists()


def test_record_and_claim_next_keeps_the_lane_and_leaves_a_delivery_given_back(store):
    # given a lane that gives its one delivery back unsent (due at once again)
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 1)
    token = uuid.uuid4()
    (delivery,) = store.acquire(hook.id, token, 1).deliveries
    # when it records that and claims with keep
    applied, batch = store.record_and_claim_next([sender.unsent(delivery)], hook.id, token, 5, True)
    # then the delivery is pending again but not claimed in the same go; the lane is kept
    assert applied == {delivery.pk}
    assert (batch.deliveries, batch.kept) == ([], True)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    # and the next claim takes it
    batch = store.claim_next(hook.id, token, 5)
    assert [d.pk for d in batch.deliveries] == [delivery.pk]


def test_record_and_claim_next_records_even_when_the_lane_or_webhook_is_gone(store):
    hook = WebhookFactory()
    due(hook, 1)
    token = uuid.uuid4()
    (delivery,) = store.acquire(hook.id, token, 1).deliveries
    Lane.objects.filter(webhook=hook).update(token=uuid.uuid4())  # lost to another lane
    applied, batch = store.record_and_claim_next([succeeded(delivery)], hook.id, token, 5)
    assert applied == {delivery.pk} and batch.deliveries == []
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED
    # a webhook deleted meanwhile: its delivery is gone too, and the claim finds nothing
    other = WebhookFactory()
    due(other, 1)
    (gone,) = store.acquire(other.id, token, 1).deliveries
    Webhook.objects.filter(pk=other.pk).delete()
    applied, batch = store.record_and_claim_next([succeeded(gone)], other.id, token, 5)
    assert (applied, batch.deliveries, batch.kept) == (set(), [], False)


def test_claim_one_takes_only_a_pending_due_delivery(store):
    hook = WebhookFactory()
    (ready,) = due(hook, 1)
    later = DeliveryFactory(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    ping = DeliveryFactory(
        webhook=hook, event=EventFactory(project_id=hook.project_id), next_attempt_at=None
    )

    assert store.claim_one(later.pk, None) is None
    batch = store.claim_one(ready.pk, "manual")
    assert [d.pk for d in batch.deliveries] == [ready.pk]
    assert batch.deliveries[0].trigger == "manual" and batch.webhook.pk == hook.pk
    assert store.claim_one(ready.pk, None) is None  # claimed already
    assert store.claim_one(ping.pk, "test") is not None  # no due time: claimed by id only


def test_an_undecryptable_webhook_loads_with_its_secret_marked(store):
    hook = WebhookFactory()
    due(hook, 1)
    spoil_secret(hook)
    batch = store.acquire(hook.id, uuid.uuid4(), 1)
    assert len(batch.deliveries) == 1
    assert is_undecryptable(batch.webhook.secret)  # sending raises; the engine records it


def test_a_webhook_that_fails_to_load_is_reported_not_raised(store, monkeypatch):
    hook = WebhookFactory()
    due(hook, 1)

    def broken(cls, *args, **kwargs):
        raise ValueError("a row the code can't read")

    monkeypatch.setattr(Webhook, "from_db", classmethod(broken))
    batch = store.acquire(hook.id, uuid.uuid4(), 1)
    assert len(batch.deliveries) == 1
    assert batch.webhook is None
    assert "could not be loaded: ValueError" in batch.load_error


def test_a_project_gets_at_most_its_cap_of_lanes_across_its_webhooks(store, webhooks_settings):
    # given a project cap of 3 and two webhooks of one project, each allowed 2 lanes
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=3)
    first = WebhookFactory(max_in_flight=2)
    second = WebhookFactory(project_id=first.project_id, max_in_flight=2)
    other = WebhookFactory(max_in_flight=2)  # another project
    for hook in (first, second, other):
        due(hook, 3)
    # when lanes are asked for four times in the project, then the fourth finds no slot
    taken = [store.acquire(hook.id, uuid.uuid4(), 1) for hook in (first, first, second, second)]
    assert [batch is not None for batch in taken] == [True, True, True, False]
    # and another project is not affected
    assert store.acquire(other.id, uuid.uuid4(), 1) is not None


def test_a_webhook_held_back_waits_and_the_release_lets_it_in(store, webhooks_settings):
    # given a project cap of 1, held by one webhook's lane, and another webhook with due work
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=1)
    holder = WebhookFactory()
    waiting = WebhookFactory(project_id=holder.project_id)
    idle = WebhookFactory(project_id=holder.project_id)  # nothing due: it does not wait
    due(holder, 1)
    due(waiting, 1)
    token = uuid.uuid4()
    assert store.acquire(holder.id, token, 1) is not None
    assert store.acquire(waiting.id, uuid.uuid4(), 1) is None
    assert store.acquire(idle.id, uuid.uuid4(), 1) is None
    # when the holder gives its lane back, then the waiting webhook is the one to wake
    store.release(holder.id, token)
    assert store.waiters(holder.id) == [waiting.id]
    assert store.waiters(holder.id) == []  # taken off the list
    assert store.acquire(waiting.id, uuid.uuid4(), 1) is not None


def test_a_release_lets_in_the_longest_waiting_webhook_of_the_project(store, webhooks_settings):
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=1)
    holder = WebhookFactory(max_in_flight=1)
    first, second = WebhookFactory.create_batch(2, project_id=holder.project_id)
    for hook in (holder, first, second):
        due(hook, 2)
    token = uuid.uuid4()
    store.acquire(holder.id, token, 1)
    assert store.acquire(holder.id, uuid.uuid4(), 1) is None  # its own lane is held: it waits
    assert store.acquire(first.id, uuid.uuid4(), 1) is None
    assert store.acquire(second.id, uuid.uuid4(), 1) is None
    store.release(holder.id, token)
    # itself (its own lane is free again) and the project's longest waiting other webhook
    assert sorted(store.waiters(holder.id)) == sorted([holder.id, first.id])
    assert store.waiters(holder.id) == [second.id]


def test_claim_next_with_nothing_due_frees_the_project_slot(store, webhooks_settings):
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=1)
    hook = WebhookFactory()
    sibling = WebhookFactory(project_id=hook.project_id)
    due(hook, 1)
    due(sibling, 1)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    assert store.claim_next(hook.id, token, 5).deliveries == []
    assert store.acquire(sibling.id, uuid.uuid4(), 1) is not None


def test_an_open_circuit_allows_one_lane_and_sheds_the_others(store):
    # given a webhook of 3 lanes, two of them held
    hook = WebhookFactory(max_in_flight=3)
    due(hook, 6)
    first, second = uuid.uuid4(), uuid.uuid4()
    store.acquire(hook.id, first, 1)
    store.acquire(hook.id, second, 1)
    # when its circuit opens
    Webhook.objects.filter(pk=hook.pk).update(circuit_open_since=timezone.now())
    # then no third lane is given, the second lane claims nothing more, the first goes on
    assert store.acquire(hook.id, uuid.uuid4(), 1) is None
    assert store.claim_next(hook.id, second, 1).deliveries == []
    assert len(store.claim_next(hook.id, first, 1).deliveries) == 1
    assert store.acquire(hook.id, uuid.uuid4(), 1) is None  # the second's lane isn't usable


def test_claim_next_brings_the_webhook_as_it_is_now(store):
    hook = WebhookFactory(max_in_flight=1)
    due(hook, 2)
    token = uuid.uuid4()
    store.acquire(hook.id, token, 1)
    hook.url, hook.is_active = "https://moved.example.com/hook", False
    hook.save()
    batch = store.claim_next(hook.id, token, 5)
    assert (batch.webhook.url, batch.webhook.is_active) == ("https://moved.example.com/hook", False)
