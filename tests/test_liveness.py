"""Worker liveness: heartbeats, and the leases of silent workers ended within seconds."""

import uuid
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.db.models.functions import Now
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.engine import liveness, ticker
from webhooks.engine.sweep import end_silent_workers
from webhooks.models import Delivery, Lane, Worker

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def worker(silent_seconds: float) -> uuid.UUID:
    row = Worker.objects.create(
        id=uuid.uuid4(), hostname="w", pid=1, started_at=Now(), beat_at=Now()
    )
    Worker.objects.filter(pk=row.pk).update(
        beat_at=timezone.now() - timedelta(seconds=silent_seconds)
    )
    return row.pk


def held_by(worker_id: uuid.UUID) -> tuple[Delivery, Lane]:
    hook = WebhookFactory()
    delivery = DeliveryFactory(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        status=Status.DELIVERING,
        locked_until=timezone.now() + timedelta(seconds=30),
        locked_by=worker_id,
    )
    lane = Lane.objects.create(
        webhook=hook,
        slot=0,
        token=uuid.uuid4(),
        expires_at=timezone.now() + timedelta(seconds=30),
        held_by=worker_id,
    )
    return delivery, lane


def test_a_heartbeat_makes_the_worker_row_then_moves_its_time_on():
    worker_id = uuid.uuid4()
    liveness.beat(worker_id)
    first = Worker.objects.get(pk=worker_id).beat_at
    liveness.beat(worker_id)
    row = Worker.objects.get(pk=worker_id)
    assert row.beat_at >= first
    assert row.started_at <= first


def test_the_leases_of_a_silent_worker_end_and_those_of_a_live_one_stay(webhooks_settings):
    # given two workers, one silent for longer than the setting allows
    webhooks_settings(WORKER_SILENT_SECONDS=5.0)
    dead, alive = worker(silent_seconds=6), worker(silent_seconds=0.5)
    dead_delivery, dead_lane = held_by(dead)
    live_delivery, live_lane = held_by(alive)
    # when the scheduler checks
    assert end_silent_workers() == 1
    # then the dead worker's delivery is due again now and its lane is free; the live one's
    # leases are untouched, and the dead worker's row is gone
    dead_delivery.refresh_from_db()
    dead_lane.refresh_from_db()
    assert (dead_delivery.status, dead_delivery.lease_expiries) == (Status.PENDING, 1)
    assert dead_delivery.next_attempt_at <= timezone.now()
    assert dead_lane.expires_at <= timezone.now()
    live_delivery.refresh_from_db()
    live_lane.refresh_from_db()
    assert live_delivery.status == Status.DELIVERING
    assert live_lane.expires_at > timezone.now()
    assert list(Worker.objects.values_list("pk", flat=True)) == [alive]
    assert end_silent_workers() == 0


def test_a_worker_that_was_only_stalled_heartbeats_again():
    stalled = worker(silent_seconds=60)
    assert end_silent_workers() == 1
    liveness.beat(stalled)
    assert Worker.objects.filter(pk=stalled).exists()


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ({}, True),
        ({"WORKER_SILENT_SECONDS": 1.5, "WORKER_HEARTBEAT_SECONDS": 1.0}, False),
        ({"WORKER_SILENT_SECONDS": 30}, False),  # not before the lease (30 s) ends anyway
        ({"TIMER_POLL_SECONDS": 0}, False),
    ],
)
def test_liveness_settings_are_checked(webhooks_settings, values, ok):
    webhooks_settings(LEASE_SECONDS=30, **values)
    ids = {e.id for e in run_checks() if e.id in ("webhooks.E082", "webhooks.E083")}
    assert (not ids) is ok


@pytest.mark.django_db(transaction=True)  # the loop closes obsolete connections, as in production
def test_the_scheduler_judges_silence_only_once_heartbeats_had_time_to_be_seen(
    webhooks_settings, woken
):
    # given a worker silent for a minute, held work, and a scheduler that just started (or just
    # reached the database again: the workers' heartbeats may not have resumed yet)
    webhooks_settings(WORKER_SILENT_SECONDS=5.0, WORKER_HEARTBEAT_SECONDS=1.0)
    dead = worker(silent_seconds=60)
    delivery, _ = held_by(dead)
    schedule = ticker._Schedule(now=1000.0)
    # when it ticks before WORKER_SILENT_SECONDS have passed, nothing is ended
    schedule.tick(1000.0)
    schedule.tick(1004.0)
    assert Worker.objects.filter(pk=dead).exists()
    # then once they have, the dead worker's delivery is due again and its webhook woken
    schedule.tick(1005.5)
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert not Worker.objects.filter(pk=dead).exists()
    assert str(delivery.webhook_id) in woken
