"""Every endpoint is untrusted: what one does costs only its own webhook (the Procfile topology).

A hung endpoint with a backlog holds at most its max_in_flight lanes, so another project's
deliveries keep their latency; and the scheduler's sweep runs on time whatever waits in the queue.
"""

import statistics
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import WebhookFactory
from tests.hostile import HostileServer
from tests.processes import Engine, RedisServer, database_url, procfile_command
from tests.support import wait_for
from webhooks.broker import STREAM
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery
from webhooks.services.emit import emit_webhook_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DISPATCH_INTERVAL = 0.5  # DISPATCH_INTERVAL_SECONDS in tests.settings


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engine(private_redis, tmp_path, settings):
    settings.REDIS_URL = private_redis.url  # this process's wake-ups go there too
    running = Engine(private_redis.url, database_url(), tmp_path)
    yield running
    running.stop()


def pending_backlog(webhook, count: int) -> None:
    """Store count events with one due pending delivery each for webhook, in two statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE backlog AS SELECT gen_random_uuid() AS id, now() AS at"
            " FROM generate_series(1, %s)",
            [count],
        )
        cursor.execute(
            "INSERT INTO webhooks_event (id, project_id, type, body, content_hash, application_id,"
            " application_slug, environment, created_at)"
            " SELECT id, %s, 'config.deployed', '{}', '', '', '', '', at FROM backlog",
            [webhook.project_id],
        )
        cursor.execute(
            "INSERT INTO webhooks_delivery (id, event_id, webhook_id, status, trigger,"
            " attempt_count, lease_expiries, next_attempt_at, last_error, created_at, updated_at)"
            " SELECT gen_random_uuid(), id, %s, 'pending', 'auto', 0, 0, at, '', at, at"
            " FROM backlog",
            [webhook.pk],
        )
        cursor.execute("DROP TABLE backlog")


def woken_in_stream(client, webhook) -> bool:
    latest = client.xrevrange(STREAM, count=50)
    return any(str(webhook.id).encode() in fields[b"data"] for _, fields in latest)


def test_a_hung_endpoint_with_a_backlog_costs_only_its_own_lanes(engine, receiver):
    # given the Procfile's worker (2 processes x 16 threads) and scheduler, and project A's
    # endpoint holding every request past the 2 s deadline with 300 deliveries due
    hung = HostileServer("silent").start()
    try:
        engine.start_worker(*procfile_command("worker"))
        engine.start_scheduler()
        noisy = WebhookFactory(url=hung.url)
        pending_backlog(noisy, 300)
        wait_for(lambda: hung.requests >= 1, 10, "the hung endpoint's first request")

        # when project B emits 20 events at 5 per second to a healthy endpoint
        quiet = WebhookFactory(url=receiver.url())
        data = EVENT_TYPES["config.deployed"].example
        emitted = {}
        for _ in range(20):
            started = time.monotonic()
            event = emit_webhook_event(quiet.project_id, "config.deployed", data)
            emitted[str(event.deliveries.get().id)] = started
            time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))
        arrivals = receiver.wait_for(20, timeout=30)

        # then B's deliveries keep their latency...
        latencies = sorted(a.at - emitted[a.headers["webhook-id"]] for a in arrivals)
        p95 = latencies[int(0.95 * len(latencies)) - 1]
        assert p95 < 1.0, f"p95 {p95:.3f} s; median {statistics.median(latencies):.3f} s"
        # ...and A never had more than its max_in_flight (the default, 4) attempts in flight
        assert 1 <= hung.max_in_flight <= 4
        assert hung.requests >= 4  # it was being tried all along
    finally:
        hung.stop()


def test_the_sweep_runs_on_time_behind_a_backlog_of_20000(engine, private_redis):
    # given 20,000 deliveries waiting in PostgreSQL and as many wake-ups in the stream, no worker
    busy = WebhookFactory()
    pending_backlog(busy, 20_000)
    client = private_redis.client()
    with client.pipeline(transaction=False) as pipe:
        for _ in range(20_000):
            pipe.xadd(STREAM, {b"data": b"{}"})
        pipe.execute()
    engine.start_scheduler()
    wait_for(lambda: woken_in_stream(client, busy), 30, "the scheduler's first sweep")
    # and a delivery whose worker died: its lease expired a moment ago
    other = WebhookFactory()
    pending_backlog(other, 1)
    stranded = Delivery.objects.get(webhook=other)
    Delivery.objects.filter(pk=stranded.pk).update(status="delivering", locked_until=timezone.now())
    started = time.monotonic()

    # when the scheduler's next sweeps run, then within two dispatch intervals it is pending
    # again and its webhook has a wake-up in the stream
    def woken():
        stranded.refresh_from_db()
        return stranded.status == "pending" and woken_in_stream(client, other)

    wait_for(woken, 10, "the stranded delivery to be woken again")
    assert time.monotonic() - started <= 2 * DISPATCH_INTERVAL + 0.3  # polling slack
    assert client.xlen(STREAM) >= 20_000  # the backlog is still there: nothing read it
    assert stranded.lease_expiries == 1


def test_unknown_ids_do_not_break_the_lane_task():
    from webhooks.engine import lanes

    assert lanes.run_lane(uuid.uuid4()) == 0
