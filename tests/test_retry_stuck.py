"""Retry-stuck: what a dead worker left in delivering goes out again; due work is woken."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tests.factories import DeliveryFactory, WebhookFactory
from tests.receiver import Reply
from webhooks.engine import lanes
from webhooks.models import Delivery

ROOT = Path(__file__).resolve().parent.parent
WORKER = """
import os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from webhooks.engine.lanes import deliver
deliver(sys.argv[1])
"""


def _run(*args) -> str:
    out = io.StringIO()
    call_command("webhooks_retry_stuck", *args, stdout=out)
    return out.getvalue().strip()


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_delivery_left_in_delivering_by_a_killed_worker_is_delivered_again(receiver, woken):
    # given a worker process killed while it waits for the receiver's answer
    delivery = DeliveryFactory(webhook=WebhookFactory(url=receiver.url()))
    receiver.reply_with(Reply(status=200, delay=5))
    env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(delivery.id)], cwd=ROOT, env=env)
    try:
        receiver.wait_for(1, timeout=20)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    delivery.refresh_from_db()
    assert delivery.status == "delivering"
    assert delivery.attempts.count() == 0

    # when retry-stuck runs after the worker's lease has expired (by the database's clock)
    Delivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    summary = _run()
    assert woken == [str(delivery.webhook_id)]
    assert lanes.run_lane(delivery.webhook_id) == 1  # what the woken worker does

    # then it is pending again, woken, and delivered with the same webhook-id
    assert "1 expired leases" in summary
    assert "1 webhooks with due deliveries woken" in summary
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert delivery.attempts.get().response_status == 200  # the killed attempt left no record


@pytest.mark.django_db
def test_stuck_after_recovers_long_running_deliveries_whatever_their_lease(woken):
    now = timezone.now()
    long_lease = now + timedelta(hours=3)
    stuck = DeliveryFactory(status="delivering", locked_until=long_lease)
    busy = DeliveryFactory(status="delivering", locked_until=long_lease)
    Delivery.objects.filter(id=stuck.id).update(updated_at=now - timedelta(hours=2))
    Delivery.objects.filter(id=busy.id).update(updated_at=now - timedelta(minutes=10))

    summary = _run("--stuck-after", "1h")

    assert "1 deliveries stuck over 3600s returned to pending" in summary
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert (stuck.status, stuck.next_attempt_at <= timezone.now()) == ("pending", True)
    assert busy.status == "delivering"
    assert woken == [str(stuck.webhook_id)]


@pytest.mark.django_db
def test_the_webhooks_of_overdue_pending_deliveries_are_woken(woken):
    now = timezone.now()
    overdue = [DeliveryFactory(next_attempt_at=now - timedelta(minutes=m)) for m in (1, 20)]
    later = DeliveryFactory(next_attempt_at=now + timedelta(hours=1))
    done = DeliveryFactory(status="succeeded", next_attempt_at=None)

    summary = _run()

    assert "2 webhooks with due deliveries woken" in summary
    assert sorted(woken) == sorted(str(d.webhook_id) for d in overdue)
    assert str(later.webhook_id) not in woken
    assert str(done.webhook_id) not in woken


@pytest.mark.django_db
def test_nothing_stuck_prints_a_zero_summary(woken):
    DeliveryFactory(status="succeeded", next_attempt_at=None)

    summary = _run()

    assert summary.splitlines() == [
        "webhooks_retry_stuck: 0 expired leases and 0 deliveries stuck over 3600s returned to "
        "pending; 0 webhooks with due deliveries woken"
    ]


@pytest.mark.parametrize("value", ["soon", "0", "-5m", "1w"])
@pytest.mark.django_db
def test_bad_stuck_after_is_refused(value):
    stuck = DeliveryFactory(status="delivering", locked_until=None)

    with pytest.raises(CommandError, match="--stuck-after"):
        _run("--stuck-after", value)

    stuck.refresh_from_db()
    assert stuck.status == "delivering"
