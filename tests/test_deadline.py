"""The hard deadline of one attempt against hostile endpoints on 127.0.0.1.

Whatever the endpoint does (drip, stall, endless headers or body), an attempt, a test ping and an
automatic delivery each end within DELIVERY_TIMEOUT_SECONDS plus 1 s, recorded as a timeout with
its real duration, and are sent once.
"""

import socket
import time

import pytest
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.hostile import HostileServer
from webhooks import transport
from webhooks.engine import lanes
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.transport import client as transport_client

BUDGET = 2.0  # DELIVERY_TIMEOUT_SECONDS in tests.settings


@pytest.fixture
def hostile(request):
    servers = []

    def start(mode: str) -> HostileServer:
        servers.append(HostileServer(mode).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def timed(action):
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "mode", ["drip", "silent", "endless-headers", "endless-body", "huge-headers"]
)
def test_an_attempt_ends_at_the_deadline_whatever_the_endpoint_does(hostile, mode):
    server = hostile(mode)

    outcome, elapsed = timed(lambda: transport.send(server.url, {}, b"{}"))

    assert elapsed < BUDGET + 1
    assert outcome.error_kind == "timeout", outcome
    assert outcome.status_code is None
    assert BUDGET * 1000 - 50 <= outcome.duration_ms <= (BUDGET + 1) * 1000
    assert server.requests == 1


def test_a_slow_name_lookup_ends_at_the_deadline(monkeypatch, receiver):
    real = socket.getaddrinfo

    def slow(*args, **kwargs):
        time.sleep(BUDGET + 2)
        return real(*args, **kwargs)

    monkeypatch.setattr(transport_client.socket, "getaddrinfo", slow)

    outcome, elapsed = timed(
        lambda: transport.send(receiver.url().replace("127.0.0.1", "localhost"), {}, b"{}")
    )

    assert elapsed < BUDGET + 1
    assert outcome.error_kind == "dns"
    assert (
        outcome.error_message == "the name lookup of localhost did not finish within the deadline"
    )
    assert receiver.requests == []


def test_a_kept_alive_connection_is_watched_on_its_next_request(hostile, receiver):
    # a quick answer first, so the connection is pooled; then the same endpoint stalls
    assert transport.send(receiver.url(), {}, b"{}").status_code == 200
    server = hostile("silent")
    outcome, elapsed = timed(lambda: transport.send(server.url, {}, b"{}"))
    assert (outcome.error_kind, elapsed < BUDGET + 1) == ("timeout", True)
    # and the pooled connection to the good endpoint still works after the deadline fired
    assert transport.send(receiver.url(), {}, b"{}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_a_test_ping_ends_at_the_deadline(hostile, make_key_client, mode):
    server = hostile(mode)
    webhook = WebhookFactory(url=server.url)
    client = make_key_client(webhook.project_id)

    response, elapsed = timed(
        lambda: client.post(f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/test")
    )

    assert elapsed < BUDGET + 1
    assert response.status_code == 200
    body = response.json()
    assert (body["succeeded"], body["error_kind"], body["status_code"]) == (False, "timeout", None)
    attempt = DeliveryAttempt.objects.get(delivery_id=body["delivery_id"])
    assert attempt.error_kind == "timeout"
    assert BUDGET * 1000 - 50 <= attempt.duration_ms <= (BUDGET + 1) * 1000
    assert server.requests == 1


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_an_automatic_attempt_ends_at_the_deadline_and_is_sent_once(
    hostile, webhooks_settings, mode
):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[60])  # the retry is far off
    server = hostile(mode)
    webhook = WebhookFactory(url=server.url)
    delivery = DeliveryFactory(
        webhook=webhook,
        event=EventFactory(project_id=webhook.project_id),
        next_attempt_at=timezone.now(),
    )

    sent, elapsed = timed(lambda: lanes.run_lane(webhook.id))

    assert (sent, elapsed < BUDGET + 1) == (1, True)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Delivery.Status.PENDING, 1)
    assert delivery.last_error.startswith("no complete answer within the 2 s deadline")
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.error_kind == "timeout"
    assert server.requests == 1


def test_a_deadline_behind_many_finished_ones_still_expires_on_time():
    from webhooks.transport import deadline

    for _ in range(500):  # attempts that ended long before their deadline, as nearly all do
        with deadline.Deadline(0.2):
            pass
    left, right = socket.socketpair()
    try:
        with deadline.Deadline(0.3) as running:
            running.watch(left)
            started = time.monotonic()
            assert left.recv(1) == b""  # shut down by the watchdog: the read ends
        assert running.expired and 0.25 <= time.monotonic() - started < 1.0
    finally:
        left.close()
        right.close()
    time.sleep(0.1)
    # the finished ones were dropped without waking for each (none remains queued)
    assert not deadline._watchdog._heap
