"""The whole engine: a real taskiq worker, the scheduler, a private Redis, PostgreSQL, a receiver.

Each chaos test breaks one thing (the worker, Redis, the database connections) and checks that
sending resumes within RECOVERY_LIMIT_SECONDS, that every delivery still ends succeeded, and that
only the deliveries in flight at a worker's death reach the receiver twice. (tests/test_recovery.py
measures the recovery with the shipped timings and two workers.)
"""

import time
from collections import Counter

import pytest
from django.db import connection, transaction
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.processes import Engine, RedisServer, database_url
from tests.receiver import Reply
from tests.support import wait_for as _wait
from webhooks.broker import STREAM
from webhooks.engine import wakeups
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FINAL = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)
RECOVERY_LIMIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def engine(django_db_setup, django_db_blocker, private_redis, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("engine")
    running = Engine(private_redis.url, database_url(), logdir)
    running.start_worker()
    running.start_scheduler()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def kicks_go_to_the_private_redis(settings, private_redis):
    settings.REDIS_URL = private_redis.url


@pytest.fixture(autouse=True)
def the_flush_outwaits_the_engine(transactional_db):
    """The engine keeps running between tests: should the flush after a test (a TRUNCATE) and a
    late statement of its worker or scheduler deadlock, PostgreSQL aborts the one that waited
    deadlock_timeout first. Here that is the engine's (which retries), not the flush."""
    with connection.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '10s'")  # the test's session only


def emit(webhook, count: int = 1, body: str | None = None) -> list[Delivery]:
    """Store count events with a delivery each and wake the webhook on commit, as emit does."""
    with transaction.atomic():
        deliveries = []
        for _ in range(count):
            event = EventFactory(project_id=webhook.project_id, **({"body": body} if body else {}))
            deliveries.append(DeliveryFactory(webhook=webhook, event=event))
        wakeups.wake_after_commit([webhook.id])
    return deliveries


def wait_until_final(deliveries, timeout: float = 30) -> list[Delivery]:
    ids = [d.id for d in deliveries]

    def all_final():
        rows = list(Delivery.objects.filter(id__in=ids))
        return rows if all(r.status in FINAL for r in rows) else None

    return _wait(all_final, timeout, f"{len(ids)} deliveries to end")


def numbers(delivery) -> list[int]:
    return list(
        DeliveryAttempt.objects.filter(delivery=delivery)
        .order_by("number")
        .values_list("number", flat=True)
    )


def kill_the_worker_and_wait_for_all(engine, receiver, deliveries) -> Counter:
    """SIGKILL the worker, start a new one, wait until every delivery succeeded; return the
    receiver's count of requests by webhook-id."""
    engine.kill_worker()
    killed_at = time.monotonic()
    receiver.default = Reply(status=200)
    engine.start_worker()
    assert receiver.seconds_to_first_after(killed_at) <= RECOVERY_LIMIT_SECONDS
    rows = wait_until_final(deliveries, timeout=40)
    assert {r.status for r in rows} == {Delivery.Status.SUCCEEDED}
    received = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert set(received) == {str(d.id) for d in deliveries}
    return received


def test_the_worker_delivers_signed_bytes_and_retries_on_schedule(engine, receiver):
    # given
    hook = WebhookFactory(url=receiver.url())
    body = '{"type":"config.deployed","z":0,"data":{"env":"prod","note":"ünïcode"}}'
    receiver.reply_with(500, 500, 200)
    # when
    (delivery,) = wait_until_final(emit(hook, body=body))
    # then
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert numbers(delivery) == [1, 2, 3]
    requests = receiver.requests
    assert [r.body for r in requests] == [body.encode()] * 3
    for request in requests:
        StandardWebhook(hook.secret).verify(request.body, request.headers)
    assert {r.headers["webhook-id"] for r in requests} == {str(delivery.id)}


def test_the_worker_records_each_kind_of_failure(engine, receiver, unused_port):
    gone = WebhookFactory(url=receiver.url("/gone"))
    moved = WebhookFactory(url=receiver.url("/moved"))
    closed = WebhookFactory(url=f"http://127.0.0.1:{unused_port}/hook")
    receiver.reply_with(410, Reply(status=302, headers={"Location": "/elsewhere"}))
    (gone_delivery,) = wait_until_final(emit(gone))
    moved_delivery, closed_delivery = emit(moved) + emit(closed)

    def attempted_twice():
        return all(len(numbers(d)) >= 2 for d in (moved_delivery, closed_delivery))

    _wait(attempted_twice, 20, "retries of the 302 and the closed port")
    gone.refresh_from_db()
    assert (gone_delivery.status, gone.is_active) == (Delivery.Status.FAILED, False)
    assert numbers(gone_delivery) == [1]
    first_moved = DeliveryAttempt.objects.get(delivery=moved_delivery, number=1)
    assert (first_moved.response_status, first_moved.error_kind) == (302, "http_status")
    assert "/elsewhere" not in [r.path for r in receiver.requests]
    kinds = set(
        DeliveryAttempt.objects.filter(delivery=closed_delivery).values_list(
            "error_kind", flat=True
        )
    )
    assert kinds == {"connection"}


def test_one_attempt_at_a_time_when_the_same_webhook_is_woken_five_times(engine, receiver):
    hook = WebhookFactory(url=receiver.url())
    receiver.reply_with(Reply(status=500, delay=0.5), 200)
    delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    for _ in range(5):
        wakeups.wake([hook.id])
    (delivery,) = wait_until_final([delivery])
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert numbers(delivery) == [1, 2]
    first, second = receiver.requests
    assert second.at - first.at >= 0.5 + 0.2  # the retry came after the first answer and its wait


def test_sigterm_lets_in_flight_deliveries_finish(engine, receiver):
    hook = WebhookFactory(url=receiver.url())
    receiver.default = Reply(status=200, delay=1.0)
    deliveries = emit(hook, count=2)
    receiver.wait_for(2)
    try:
        assert engine.terminate_worker() == 0
        rows = Delivery.objects.filter(id__in=[d.id for d in deliveries])
        assert {r.status for r in rows} == {Delivery.Status.SUCCEEDED}  # recorded before exit
        assert len(receiver.requests) == 2
    finally:
        engine.start_worker()


def test_no_delivery_is_lost_when_the_worker_is_killed(engine, receiver):
    # given deliveries in flight: the receiver holds every request for a second
    hook = WebhookFactory(url=receiver.url())
    receiver.default = Reply(status=200, delay=1.0)
    deliveries = emit(hook, count=12)
    receiver.wait_for(4)
    # when
    reached_before_the_kill = {r.headers["webhook-id"] for r in receiver.requests}
    received = kill_the_worker_and_wait_for_all(engine, receiver, deliveries)
    # then
    sent_twice = {webhook_id for webhook_id, count in received.items() if count > 1}
    assert sent_twice  # the requests the killed worker had in flight were sent again...
    assert sent_twice <= reached_before_the_kill  # ...and only those


def test_flushall_loses_no_delivery(engine, receiver, private_redis):
    receiver.default = Reply(status=200, delay=0.2)
    deliveries = [d for _ in range(40) for d in emit(WebhookFactory(url=receiver.url()))]
    receiver.wait_for(2)
    client = private_redis.client()
    (group,) = client.xinfo_groups(STREAM)
    assert group["lag"] > 0  # messages no worker has read yet: the flush destroys them
    client.flushall()
    flushed_at = time.monotonic()
    assert receiver.seconds_to_first_after(flushed_at) <= RECOVERY_LIMIT_SECONDS
    rows = wait_until_final(deliveries, timeout=40)
    assert {r.status for r in rows} == {Delivery.Status.SUCCEEDED}


def test_deliveries_emitted_while_redis_is_down_go_out_when_it_is_back(
    engine, receiver, private_redis
):
    hook = WebhookFactory(url=receiver.url())
    private_redis.stop()
    try:
        deliveries = emit(hook, count=3)  # must not raise: the rows are committed
        assert Delivery.objects.filter(id__in=[d.id for d in deliveries]).count() == 3
        assert receiver.requests == []
    finally:
        private_redis.start()
    back_at = time.monotonic()
    assert receiver.seconds_to_first_after(back_at) <= RECOVERY_LIMIT_SECONDS
    rows = wait_until_final(deliveries, timeout=40)
    assert {r.status for r in rows} == {Delivery.Status.SUCCEEDED}


def test_deliveries_succeed_after_the_database_kills_the_worker_connections(engine, receiver):
    hook = WebhookFactory(url=receiver.url())
    wait_until_final(emit(hook, count=2))  # the worker's threads now hold connections
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall()  # there were connections to kill
    killed_at = time.monotonic()
    deliveries = emit(hook, count=6)
    assert receiver.seconds_to_first_after(killed_at) <= RECOVERY_LIMIT_SECONDS
    rows = wait_until_final(deliveries)
    assert {r.status for r in rows} == {Delivery.Status.SUCCEEDED}


def test_a_batch_whose_worker_is_killed_mid_way_loses_nothing_and_repeats_at_most_once(
    engine, receiver
):
    # given one lane sending a batch: each request takes 0.2 s, so after the first delivery
    # the lane claims several at once and sends them one after another
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    receiver.default = Reply(status=200, delay=0.2)
    deliveries = emit(hook, count=10)
    receiver.wait_for(3)
    # when the worker is killed in the middle of the batch
    received = kill_the_worker_and_wait_for_all(engine, receiver, deliveries)
    # then none reaches the receiver more than twice, and each count matches its attempts
    assert max(received.values()) <= 2
    rows = Delivery.objects.filter(id__in=[d.id for d in deliveries])
    assert all(r.attempt_count == len(numbers(r)) for r in rows)
