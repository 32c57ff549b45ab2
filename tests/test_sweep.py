"""The sweep and the wake-ups: expired leases, webhooks with due work, the queue's messages."""

import asyncio
import os
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.support import wait_for
from webhooks import broker as broker_module
from webhooks.broker import CONSUMER_GROUP, STREAM
from webhooks.engine import timers, wakeups
from webhooks.engine.sweep import dispatch_due, due_webhooks, release_expired_leases
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db

Status = Delivery.Status


def make_delivery(webhook=None, **fields):
    webhook = webhook or WebhookFactory()
    return DeliveryFactory(
        webhook=webhook, event=EventFactory(project_id=webhook.project_id), **fields
    )


def expired(**fields):
    return make_delivery(
        status=Status.DELIVERING, locked_until=timezone.now() - timedelta(seconds=1), **fields
    )


def test_the_sweep_wakes_each_webhook_with_due_work_once(woken):
    now = timezone.now()
    hook = WebhookFactory()
    make_delivery(hook)
    make_delivery(hook)  # two due: one wake-up
    make_delivery(next_attempt_at=now + timedelta(minutes=5))  # not due yet
    make_delivery(status=Status.SUCCEEDED)
    make_delivery(status=Status.DELIVERING, locked_until=now + timedelta(seconds=30))

    assert dispatch_due() == 1
    assert woken == [str(hook.id)]


def test_the_sweep_honours_its_limit(woken):
    for _ in range(3):
        make_delivery()
    assert dispatch_due(limit=2) == 2
    assert len(woken) == 2


def test_an_expired_lease_returns_the_delivery_to_pending_and_wakes_its_webhook(woken):
    stuck = expired()
    assert dispatch_due() == 1
    stuck.refresh_from_db()
    assert (stuck.status, stuck.lease_expiries, stuck.attempt_count) == (Status.PENDING, 1, 0)
    assert stuck.next_attempt_at <= timezone.now()
    assert woken == [str(stuck.webhook_id)]


def test_live_leases_are_left_alone():
    live = make_delivery(
        status=Status.DELIVERING, locked_until=timezone.now() + timedelta(seconds=30)
    )
    assert release_expired_leases() == 0
    live.refresh_from_db()
    assert live.status == Status.DELIVERING


def test_a_delivery_whose_worker_dies_on_it_three_times_fails_with_that_reason(webhooks_settings):
    webhooks_settings(MAX_LEASE_EXPIRIES=3)
    delivery = expired()
    for expiries in (1, 2):
        assert release_expired_leases() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.lease_expiries) == (Status.PENDING, expiries)
        # claimed again, and its worker killed again
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Status.DELIVERING, locked_until=timezone.now() - timedelta(seconds=1)
        )
    assert release_expired_leases() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (Status.FAILED, None)
    assert delivery.last_error.startswith("its lease expired 3 times with no attempt recorded")
    assert delivery.attempt_count == 0  # no attempt was ever recorded: none is invented


# --- wake-ups through Redis --------------------------------------------------------------------


@pytest.fixture
def stream(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    return client


def test_a_webhook_has_at_most_one_wake_up_waiting(stream):
    webhook_id = str(uuid.uuid4())
    assert wakeups.wake([webhook_id, webhook_id]) == 1
    assert wakeups.wake([webhook_id]) == 0  # one waits already
    assert stream.xlen(STREAM) == 1
    wakeups.taken(webhook_id)  # a worker took it: the next wake-up goes out again
    assert wakeups.wake([webhook_id]) == 1
    assert stream.xlen(STREAM) == 2


def test_a_forced_wake_up_goes_out_though_one_seems_to_wait(stream):
    # as after a worker died with wake-ups it had read but not run (the ticker's forced sweep)
    webhook_id = str(uuid.uuid4())
    assert wakeups.wake([webhook_id]) == 1
    assert wakeups.wake([webhook_id]) == 0
    assert wakeups.wake([webhook_id], force=True) == 1
    assert stream.xlen(STREAM) == 2


def test_a_wake_up_is_sent_again_after_its_lease(stream, webhooks_settings):
    webhooks_settings(WAKE_LEASE_SECONDS=0.2)
    webhook_id = str(uuid.uuid4())
    assert wakeups.wake([webhook_id]) == 1
    time.sleep(0.3)  # the lease itself is what is tested
    assert wakeups.wake([webhook_id]) == 1


def test_wake_ups_are_sent_after_commit_only(stream, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        wakeups.wake_after_commit([uuid.uuid4(), uuid.uuid4()])
        assert stream.xlen(STREAM) == 0  # not before the commit
    assert stream.xlen(STREAM) == 2


def test_a_large_wake_up_is_sent_in_full(stream):
    ids = [uuid.uuid4() for _ in range(1200)]  # more than one pipelined batch
    assert wakeups.wake(ids) == 1200
    assert stream.xlen(STREAM) == 1200


def test_wake_ups_go_out_after_redis_forgot_the_script(stream):
    assert wakeups.wake([uuid.uuid4()]) == 1
    stream.script_flush()  # a restarted or flushed server
    assert wakeups.wake([uuid.uuid4(), uuid.uuid4()]) == 2
    assert stream.xlen(STREAM) == 3


def test_the_answers_stay_with_their_wake_ups_after_redis_forgot_the_script(stream):
    waiting = str(uuid.uuid4())
    assert wakeups.wake([waiting]) == 1
    stream.script_flush()
    # every reply of the refused batch is read before the script is loaded and the batch sent
    # again: the next wake-ups on the same connection get their own answers
    assert wakeups.wake([uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]) == 3
    assert wakeups.wake([waiting]) == 0
    assert wakeups.wake([waiting, uuid.uuid4()]) == 1
    assert stream.xlen(STREAM) == 5


def test_a_wake_up_goes_out_after_redis_closed_the_connection(stream):
    assert wakeups.wake([uuid.uuid4()]) == 1
    # as after a restart, or Redis's idle timeout: the thread's connection is dead
    assert stream.client_kill_filter(_type="normal", skipme=True) >= 1
    assert wakeups.wake([uuid.uuid4()]) == 1
    assert stream.xlen(STREAM) == 2


def test_a_wake_up_is_the_message_a_worker_reads(stream):
    webhook_id = str(uuid.uuid4())
    assert wakeups.wake([webhook_id]) == 1
    ((_, fields),) = stream.xrange(STREAM)
    message = broker_module.broker.formatter.loads(fields[b"data"])
    assert (message.task_name, message.args, message.kwargs) == (
        wakeups.LANE_TASK,
        [webhook_id],
        {},
    )
    assert message.labels == {} and uuid.UUID(message.task_id)


def test_a_wake_up_left_unacknowledged_by_a_dead_worker_is_taken_over(stream, settings):
    webhook_id = str(uuid.uuid4())
    reader = broker_module.make_broker(settings.REDIS_URL)
    reader.block, reader.idle_timeout = 100, 50  # ms: a short read, a short wait to take over

    async def scenario():
        await reader.startup()  # the consumer group
        assert wakeups.wake([webhook_id]) == 1
        # a worker reads the wake-up and dies before acknowledging it
        client = reader.client()
        await client.xreadgroup(CONSUMER_GROUP, "dead-worker", {STREAM: ">"}, count=1)
        await asyncio.sleep(0.1)
        read = reader._read()
        message = await asyncio.wait_for(anext(read), timeout=5)
        await message.ack()
        pending = await client.xpending(STREAM, CONSUMER_GROUP)
        await read.aclose()
        await reader.shutdown()
        return message.data, pending["pending"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(broker_module, "TAKEOVER_INTERVAL_SECONDS", 0)
        data, pending = asyncio.run(scenario())
    assert webhook_id.encode() in data and b"webhooks.lane" in data
    assert pending == 0


def test_waking_never_raises_when_redis_is_down(settings, unused_port, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port}/0"
    started = time.monotonic()
    assert wakeups.wake([uuid.uuid4()]) == 0
    wakeups.taken(str(uuid.uuid4()))
    assert time.monotonic() - started < 5
    assert "the sweep" in caplog.text


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_a_forked_process_gets_its_own_wake_up_thread(stream):
    # given the parent's thread is running (as in a gunicorn master with --preload)
    assert wakeups.wake([uuid.uuid4()]) == 1
    # when a worker process is forked from it, its wake-ups still go out
    pid = os.fork()
    if pid == 0:  # on a connection of its own, not its parent's socket
        fresh = getattr(wakeups._state.lines, "line", None) is None
        os._exit(0 if fresh and wakeups.wake([uuid.uuid4()]) == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_scheduler_command_sweeps_once_when_asked(woken):
    import io

    from django.core.management import call_command

    stuck = expired()
    out = io.StringIO()
    call_command("webhooks_scheduler", "--once", stdout=out)
    assert out.getvalue().strip() == "webhooks_scheduler: woke 1 webhooks"
    assert woken == [str(stuck.webhook_id)]


# --- fairness and cost -------------------------------------------------------------------------


def many_due_webhooks(count: int) -> set[str]:
    project = uuid.uuid4()
    hooks = Webhook.objects.bulk_create(
        [
            Webhook(project_id=project, name=f"h{n}", url="https://x.example/h", secret="whsec_x")
            for n in range(count)
        ]
    )
    event = EventFactory(project_id=project)
    Delivery.objects.bulk_create([Delivery(event=event, webhook=h) for h in hooks])
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    return {str(h.id) for h in hooks}


def test_1500_webhooks_due_at_once_are_all_woken_within_two_sweeps(woken, webhooks_settings):
    # given more webhooks due than one sweep wakes (a regional outage ended, say), which stay
    # due because no worker runs
    webhooks_settings(DISPATCH_BATCH_SIZE=1000)
    due = many_due_webhooks(1500)
    # when the sweep runs twice
    first = dispatch_due()
    second = dispatch_due()
    # then every one was woken: the least recently swept go first, none is left out
    assert (first, second) == (1000, 1000)
    assert set(woken[:1500]) == due
    assert len(set(woken[:1500])) == 1500
    # and the third run starts with those woken longest ago (in the first run only)
    dispatch_due()
    assert set(woken[:1000]) - set(woken[1000:2000]) <= set(woken[2000:])


def test_the_sweep_reads_a_bounded_number_of_rows_whatever_the_backlog(woken):
    # given one webhook with a large backlog of due deliveries and many with one each (with a
    # handful of webhooks, reading the whole backlog once can be the cheaper plan, and it is)
    backlogged = WebhookFactory()
    event_ids = [EventFactory(project_id=backlogged.project_id).id for _ in range(3000)]
    Delivery.objects.bulk_create([Delivery(event_id=e, webhook=backlogged) for e in event_ids])
    others = [make_delivery().webhook_id for _ in range(100)]
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # when the sweep looks for due webhooks
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webhooks_delivery")
        cursor.execute("ANALYZE webhooks_webhook")
    sql, params = due_webhooks_query(10)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    # then it probes each webhook's due deliveries once (one row each), never the backlog
    delivery_rows = sum(
        node["Actual Rows"] * node["Actual Loops"]
        for node in nodes(plan[0]["Plan"])
        if node.get("Relation Name") == "webhooks_delivery"
    )
    assert 1 <= delivery_rows <= 10
    assert set(due_webhooks(10)) <= {backlogged.id, *others}
    assert len(due_webhooks(200)) == 101


def due_webhooks_query(limit: int) -> tuple[str, list]:
    """Return the sweep's statement as it ran (values inlined by the debug cursor)."""
    with CaptureQueriesContext(connection) as queries:
        due_webhooks(limit)
    (query,) = queries.captured_queries
    return query["sql"], []


def nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


# --- retry timers ------------------------------------------------------------------------------


def test_a_retry_timer_wakes_its_webhook_when_due_and_not_before(stream):
    webhook_id = str(uuid.uuid4())
    set_at = time.monotonic()
    timers.wake_after(webhook_id, [0.3])
    assert timers.wake_due() == 0
    assert wait_for(timers.wake_due, 3, "the timer to fire") == 1
    assert time.monotonic() - set_at >= 0.3
    assert stream.xlen(STREAM) == 1
    assert timers.wake_due() == 0  # fired once


def test_the_retries_of_one_webhook_due_close_together_make_one_timer(stream):
    webhook_id = str(uuid.uuid4())
    timers.wake_after(webhook_id, [0.01, 0.011, 0.012])
    timers.wake_after(webhook_id, [3600])
    assert stream.zcard(timers.TIMERS_KEY) <= 3  # one per 100 ms bucket, not one per retry
    assert wait_for(timers.wake_due, 3, "the timer to fire") >= 1
    assert stream.zcard(timers.TIMERS_KEY) == 1  # the one an hour away waits


def test_the_embedded_mode_keeps_its_timers_in_the_process(settings, woken):
    settings.REDIS_URL = ""
    webhook_id = str(uuid.uuid4())
    timers.wake_after(webhook_id, [0.05])
    wait_for(timers.wake_due, 3, "the timer to fire")
    assert woken == [webhook_id]
