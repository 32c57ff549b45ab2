"""Recovery after each fault, and retries on time, with the shipped timings (recovery_settings).

Two worker processes (standing for two machines), the scheduler, a private redis-server,
PostgreSQL and a receiver. Each fault test measures the seconds from the fault to the first
request that the fault held up, and asserts at most RECOVERY_LIMIT_SECONDS; docs/operations.md
("Recovery after a fault") has the medians of three runs. Run with -s to see the measures.
"""

import copy
import json
import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.processes import Engine, RedisServer, database_url
from tests.receiver import Reply
from tests.recovery_settings import RETRY_WAIT_SECONDS
from tests.support import wait_for
from webhooks import events
from webhooks.broker import CONSUMER_GROUP, STREAM
from webhooks.engine import wakeups
from webhooks.models import Delivery, DeliveryAttempt, Lane, Worker
from webhooks.services.emit import emit_webhook_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RECOVERY_LIMIT_SECONDS = 10.0
WORKERS = ("worker", "second")


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def engine(django_db_setup, django_db_blocker, private_redis, tmp_path_factory):
    running = Engine(
        private_redis.url,
        database_url(),
        tmp_path_factory.mktemp("engine"),
        settings_module="tests.recovery_settings",
    )
    for name in WORKERS:
        running.start_worker(name=name)
    running.start_scheduler()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def both_workers_run(engine, settings, private_redis):
    settings.REDIS_URL = private_redis.url
    for name in WORKERS:
        if engine.workers[name].poll() is not None:
            engine.start_worker(name=name)

    def beating() -> bool:
        pids = Worker.objects.values_list("pid", flat=True)
        return {engine.worker_of(pid) for pid in pids} >= set(WORKERS)

    wait_for(beating, 20, "both workers to heartbeat")


def emit(webhook, count: int) -> list[Delivery]:
    with transaction.atomic():
        event_ids = [EventFactory(project_id=webhook.project_id).id for _ in range(count)]
        deliveries = [DeliveryFactory(webhook=webhook, event_id=e) for e in event_ids]
        wakeups.wake_after_commit([webhook.id])
    return deliveries


def all_succeed(deliveries, timeout: float = 60) -> None:
    ids = [d.id for d in deliveries]
    wait_for(
        lambda: (
            Delivery.objects.filter(id__in=ids, status=Delivery.Status.SUCCEEDED).count()
            == len(ids)
        ),
        timeout,
        f"{len(ids)} deliveries to succeed",
    )


def recovery(receiver, fault_at: float, held_up: set[str] | None = None) -> float:
    """Return the seconds from fault_at to the first request after it (of held_up, if given)."""
    seconds = receiver.seconds_to_first_after(fault_at, held_up)
    print(f"\nrecovery: {seconds:.2f} s")
    return seconds


def test_a_sigkill_mid_burst_with_a_second_worker_running_sending_resumes_within_10_s(
    engine, receiver
):
    # given a burst through one lane (the receiver takes 0.2 s a request)
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    receiver.default = Reply(status=200, delay=0.2)
    deliveries = emit(hook, 60)
    receiver.wait_for(5, timeout=20)
    # when the worker holding the lane is killed, the other one running on
    killed_at = kill_the_lane_holder(engine, hook)
    # then the other worker sends again within 10 s (not after the 30 s lease)...
    assert recovery(receiver, killed_at) <= RECOVERY_LIMIT_SECONDS
    # ...and every delivery succeeds
    all_succeed(deliveries)
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(d.id) for d in deliveries}


def kill_the_lane_holder(engine, hook) -> float:
    """SIGKILL the worker holding the webhook's one lane; return when (monotonic).

    The lane changes hands at each time slice: should it have moved between the look and the
    kill, the killed worker is started again and the next holder is killed.
    """
    for _ in range(5):
        held_by = wait_for(
            lambda: (
                Lane.objects.filter(webhook=hook, expires_at__gt=timezone.now())
                .values_list("held_by", flat=True)
                .first()
            ),
            10,
            "a held lane",
        )
        holder = engine.worker_of(Worker.objects.get(pk=held_by).pid)
        engine.kill_worker(holder)
        killed_at = time.monotonic()
        if Lane.objects.filter(
            webhook=hook, held_by=held_by, expires_at__gt=timezone.now()
        ).exists():
            return killed_at
        engine.start_worker(name=holder)
    raise AssertionError("the lane's holder could not be caught")


def test_after_flushall_the_lost_wake_ups_go_out_within_10_s(engine, receiver, private_redis):
    # given wake-ups waiting in the stream, unread
    receiver.default = Reply(status=200, delay=0.5)
    hooks = [WebhookFactory(url=receiver.url()) for _ in range(40)]
    deliveries = [d for hook in hooks for d in emit(hook, 1)]
    receiver.wait_for(2, timeout=20)
    # when Redis loses everything: note which wake-ups were unread, and flush, in one go
    client = private_redis.client()
    with client.pipeline(transaction=True) as pipe:
        pipe.xrange(STREAM).xinfo_groups(STREAM).flushall()
        entries, groups, _ = pipe.execute()
    flushed_at = time.monotonic()
    (group,) = [g for g in groups if g["name"].decode() == CONSUMER_GROUP]
    read_up_to = _entry_id(group["last-delivered-id"])
    lost = {
        json.loads(fields[b"data"])["args"][0]
        for entry_id, fields in entries
        if _entry_id(entry_id) > read_up_to
    }
    assert lost  # the flush destroyed wake-ups no worker had read
    held_up = {str(d.id) for d in deliveries if str(d.webhook_id) in lost}
    # then their deliveries go out within 10 s
    assert recovery(receiver, flushed_at, held_up) <= RECOVERY_LIMIT_SECONDS
    all_succeed(deliveries)


def test_deliveries_emitted_while_redis_is_down_go_out_within_10_s_of_its_return(
    engine, receiver, private_redis
):
    hook = WebhookFactory(url=receiver.url())
    private_redis.stop()
    try:
        deliveries = emit(hook, 3)  # committed; their wake-ups are lost
    finally:
        private_redis.start()
    back_at = time.monotonic()
    assert recovery(receiver, back_at) <= RECOVERY_LIMIT_SECONDS
    all_succeed(deliveries)


def test_after_the_database_kills_the_workers_sessions_sending_resumes_within_10_s(
    engine, receiver
):
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    receiver.default = Reply(status=200, delay=0.2)
    deliveries = emit(hook, 40)
    receiver.wait_for(5, timeout=20)
    with connection.cursor() as cursor:  # our own test database's sessions only
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall()
    killed_at = time.monotonic()
    assert recovery(receiver, killed_at) <= RECOVERY_LIMIT_SECONDS
    all_succeed(deliveries)


def test_a_retry_goes_out_within_1_s_of_its_due_time(engine, receiver):
    # given endpoints that fail once (500), then succeed
    hooks = [WebhookFactory(url=receiver.url(f"/r{n}")) for n in range(20)]
    receiver.reply_with(*[500] * len(hooks))
    deliveries = [d for hook in hooks for d in emit(hook, 1)]
    # when each retry is due RETRY_WAIT_SECONDS after its failure (the sweep runs every 5 s)
    all_succeed(deliveries, timeout=30)
    # then the second request went out within 1 s of the due time, for every delivery
    lateness = []
    for delivery in deliveries:
        first, second = DeliveryAttempt.objects.filter(delivery=delivery).order_by("number")
        assert (first.response_status, second.response_status) == (500, 200)
        due = first.started_at.timestamp() + first.duration_ms / 1000 + RETRY_WAIT_SECONDS
        lateness.append(second.started_at.timestamp() - due)
    print(
        f"\nretry lateness: median {statistics.median(lateness):.3f} s, max {max(lateness):.3f} s"
    )
    assert max(lateness) <= 1.0
    assert min(lateness) >= -0.01  # and never early


def test_a_web_process_whose_clock_runs_ahead_still_sends_first_attempts_at_once(engine, receiver):
    # given this process (standing for a web host) with a clock ten minutes ahead
    hook = WebhookFactory(url=receiver.url())
    data = copy.deepcopy(events.EVENT_TYPES["config.deployed"].example)
    with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=True):
        # when it emits
        started = time.perf_counter()  # time-machine leaves it alone
        emit_webhook_event(hook.project_id, "config.deployed", data)
        receiver.wait_for(1, timeout=20)
        took = time.perf_counter() - started
    # then the first attempt went out at once: not after the sweep (5 s), nor in ten minutes
    print(f"\nfirst attempt with the web clock ahead: {took * 1000:.0f} ms")
    assert took < 1.0


def _entry_id(value) -> tuple[int, int]:
    millis, sequence = (value.decode() if isinstance(value, bytes) else value).split("-")
    return int(millis), int(sequence)
