"""The delivery service against a real receiver on 127.0.0.1: signing, outcomes, bookkeeping."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Reply
from webhooks import transport
from webhooks.conf import app_settings
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.signing import generate_secret

pytestmark = pytest.mark.django_db

Status = Delivery.Status


@pytest.fixture
def hook(receiver):
    return WebhookFactory(url=receiver.url(), headers={"X-Team": "search"})


def make_delivery(webhook, **fields):
    event = EventFactory(project_id=webhook.project_id)
    return DeliveryFactory(webhook=webhook, event=event, **fields)


def run_until_final(delivery, timeout=15.0) -> Delivery:
    """Attempt the delivery whenever it is due, as the sweep would, until it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliver(delivery.id)
        delivery.refresh_from_db()
        if delivery.status in (Status.SUCCEEDED, Status.FAILED):
            return delivery
        time.sleep(0.02)  # the poll interval, not a synchronisation
    raise AssertionError(f"delivery still {delivery.status} after {timeout}s")


def attempts_of(delivery):
    return list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))


# --- signing and the wire ---------------------------------------------------------------------


def test_the_receiver_gets_the_stored_bytes_signed(receiver, hook):
    # given an event body with non-ASCII text and a key order JSON parsers would not keep
    body = '{"z":1,"id":"e","type":"config.deployed","data":{"note":"déployé ✓","a":[1,2]}}'
    event = EventFactory(project_id=hook.project_id, body=body)
    delivery = DeliveryFactory(webhook=hook, event=event)
    # when
    attempt = deliver(delivery.id)
    # then
    (got,) = receiver.wait_for(1)
    assert got.body == body.encode()
    assert StandardWebhook(hook.secret).verify(got.body, got.headers) == json.loads(body)
    assert got.headers["webhook-id"] == got.headers["x-agenta-delivery"] == str(delivery.id)
    assert got.headers["x-agenta-event"] == "config.deployed"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("agenta-webhooks/")
    assert got.headers["x-team"] == "search"
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.delivered_at is not None
    assert (attempt.number, attempt.response_status, attempt.response_body) == (1, 200, "ok")


def test_the_recorded_request_hides_the_signature_and_credentials(receiver):
    hook = WebhookFactory(
        url=receiver.url(), headers={"Authorization": "Bearer s3cret", "X-Team": "search"}
    )
    attempt = deliver(make_delivery(hook).id)
    (got,) = receiver.wait_for(1)
    assert got.headers["authorization"] == "Bearer s3cret"  # sent for real
    recorded = attempt.request_headers
    assert recorded["webhook-signature"] == "[redacted]"
    assert recorded["Authorization"] == "[redacted]"
    assert recorded["X-Team"] == "search"
    assert hook.secret not in json.dumps(recorded)
    assert "s3cret" not in json.dumps(recorded)
    assert attempt.request_url == receiver.url().replace("/hook", "/…")  # the path redacted


def test_a_binary_answer_is_recorded(receiver, hook):
    receiver.reply_with(Reply(status=200, body=b"\x00\xff binary"))
    attempt = deliver(make_delivery(hook).id)
    attempt.refresh_from_db()
    assert attempt.response_body == "\ufffd\ufffd binary"


def test_during_rotation_both_secrets_verify_and_afterwards_only_the_new_one(receiver):
    old, new = generate_secret(), generate_secret()
    hook = WebhookFactory(
        url=receiver.url(),
        secret=new,
        previous_secret=old,
        previous_secret_expires_at=timezone.now() + timedelta(hours=24),
    )
    deliver(make_delivery(hook).id)
    during = receiver.wait_for(1)[0]
    assert len(during.headers["webhook-signature"].split()) == 2
    StandardWebhook(new).verify(during.body, during.headers)
    StandardWebhook(old).verify(during.body, during.headers)

    Webhook.objects.filter(pk=hook.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    deliver(make_delivery(hook).id)
    after = receiver.wait_for(2)[1]
    assert len(after.headers["webhook-signature"].split()) == 1
    StandardWebhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(after.body, after.headers)


# --- receiver outcomes ------------------------------------------------------------------------


def test_500_500_200_takes_three_attempts_and_succeeds(receiver, hook):
    receiver.reply_with(500, 500, 200)
    delivery = run_until_final(make_delivery(hook))
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempt_count == 3
    attempts = attempts_of(delivery)
    assert [(a.number, a.response_status) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert [a.error_kind for a in attempts] == ["http_status", "http_status", ""]
    assert attempts[0].error_message == "HTTP 500 Internal Server Error"
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {str(delivery.id)}  # stable across retries
    # the waits follow the (test) schedule: 0.2 s, then 0.4 s
    arrivals = [r.at for r in receiver.requests]
    assert arrivals[1] - arrivals[0] >= 0.2
    assert arrivals[2] - arrivals[1] >= 0.4


def test_410_disables_the_webhook_and_stops(receiver, hook):
    receiver.reply_with(410)
    delivery = run_until_final(make_delivery(hook))
    assert delivery.status == Status.FAILED
    hook.refresh_from_db()
    assert (hook.is_active, hook.disabled_reason) == (False, "endpoint answered 410 Gone")
    assert hook.disabled_at is not None
    # later deliveries of the disabled webhook are not sent
    other = run_until_final(make_delivery(hook))
    assert other.status == Status.FAILED
    assert "disabled" in other.last_error
    assert attempts_of(other)[0].error_kind == "webhook_disabled"
    assert len(receiver.requests) == 1


def test_retry_after_delays_the_next_attempt(receiver, hook, webhooks_settings):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[0.2, 5])
    receiver.reply_with(Reply(status=429, headers={"Retry-After": "2"}), 200)
    delivery = make_delivery(hook)
    attempt = deliver(delivery.id)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - attempt.started_at >= timedelta(seconds=2)
    delivery = run_until_final(delivery)
    first, second = receiver.wait_for(2)
    assert second.at - first.at >= 2
    assert delivery.status == Status.SUCCEEDED


def test_a_timeout_is_retried_with_its_error_kind(receiver, hook, webhooks_settings):
    webhooks_settings(CONNECT_TIMEOUT_SECONDS=0.3, DELIVERY_TIMEOUT_SECONDS=0.5)
    receiver.reply_with(Reply(delay=2))
    delivery = make_delivery(hook)
    attempt = deliver(delivery.id)
    delivery.refresh_from_db()
    assert (attempt.error_kind, attempt.response_status) == ("timeout", None)
    assert delivery.status == Status.PENDING
    assert delivery.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert run_until_final(delivery).status == Status.SUCCEEDED


def test_a_closed_port_is_retried_until_the_schedule_ends(unused_port, webhooks_settings):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[0.05] * 6)
    hook = WebhookFactory(url=f"http://127.0.0.1:{unused_port}/hook")
    delivery = run_until_final(make_delivery(hook))
    attempts = attempts_of(delivery)
    assert delivery.status == Status.FAILED
    assert [a.number for a in attempts] == [1, 2, 3, 4, 5, 6, 7]
    assert {a.error_kind for a in attempts} == {"connection"}


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver, hook):
    receiver.reply_with(Reply(status=302, headers={"Location": receiver.url("/moved")}))
    attempt = deliver(make_delivery(hook).id)
    assert (attempt.response_status, attempt.error_kind) == (302, "http_status")
    assert "redirects are not followed" in attempt.error_message
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert Delivery.objects.get(pk=attempt.delivery_id).status == Status.PENDING


def test_a_private_destination_is_blocked_without_a_connection(receiver, webhooks_settings):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    hook = WebhookFactory(url=f"http://localhost:{receiver.port}/hook")
    delivery = run_until_final(make_delivery(hook))
    (attempt,) = attempts_of(delivery)
    assert delivery.status == Status.FAILED
    assert attempt.error_kind == "blocked_destination"
    assert receiver.requests == []


def test_a_deleted_webhook_is_not_sent(receiver, hook):
    Webhook.objects.filter(pk=hook.pk).update(deleted_at=timezone.now())
    delivery = run_until_final(make_delivery(hook))
    assert delivery.status == Status.FAILED
    assert delivery.last_error == "the webhook was deleted"
    assert receiver.requests == []


def test_a_test_ping_reaches_a_disabled_webhook(receiver, hook):
    Webhook.objects.filter(pk=hook.pk).update(is_active=False, disabled_reason="paused")
    delivery = make_delivery(hook, trigger=Delivery.Trigger.TEST)
    attempt = deliver(delivery.id, trigger=Delivery.Trigger.TEST)
    assert (attempt.trigger, attempt.response_status) == ("test", 200)
    assert len(receiver.requests) == 1


def test_a_failed_manual_attempt_after_the_schedule_ran_out_stays_failed(receiver, hook):
    receiver.reply_with(500)
    schedule = len(app_settings.RETRY_SCHEDULE_SECONDS)
    delivery = make_delivery(
        hook, trigger=Delivery.Trigger.MANUAL, attempt_count=7, auto_attempt_count=schedule + 1
    )
    attempt = deliver(delivery.id)
    delivery.refresh_from_db()
    assert attempt.trigger == "manual"
    assert (delivery.status, delivery.next_attempt_at) == (Status.FAILED, None)
    assert delivery.trigger == Delivery.Trigger.MANUAL  # what started its last attempt


def test_a_failed_manual_attempt_keeps_the_automatic_schedule_where_it_was(receiver, hook):
    # given a delivery after two automatic attempts (in production the next wait is 5 min)
    receiver.reply_with(500)
    delivery = make_delivery(
        hook, trigger=Delivery.Trigger.MANUAL, attempt_count=2, auto_attempt_count=2
    )
    # when a person's attempt fails too
    before = timezone.now()
    attempt = deliver(delivery.id)
    delivery.refresh_from_db()
    # then it waits as after its last automatic attempt, not the 30 minutes of the 3rd
    assert (attempt.number, attempt.trigger) == (3, "manual")
    assert delivery.status == Status.PENDING
    wait = (delivery.next_attempt_at - before).total_seconds()
    after_second = app_settings.RETRY_SCHEDULE_SECONDS[1]
    spread = after_second * app_settings.RETRY_JITTER_RATIO + 1
    assert after_second - spread <= wait <= after_second + spread
    assert (delivery.trigger, delivery.auto_attempt_count) == (Delivery.Trigger.AUTO, 2)


# --- claiming and leases ----------------------------------------------------------------------


def test_an_early_or_duplicate_message_does_nothing(receiver, hook):
    later = make_delivery(hook, next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert deliver(later.id) is None
    done = make_delivery(hook, status=Status.SUCCEEDED)
    assert deliver(done.id) is None
    assert receiver.requests == []


def test_a_worker_that_outlived_its_lease_records_its_attempt_but_not_its_state(
    receiver, hook, monkeypatch
):
    delivery = make_delivery(hook)
    real_send = transport.send

    def send_while_the_lease_expires(*args):
        outcome = real_send(*args)
        # meanwhile the sweep returned the row and another worker claimed it
        Delivery.objects.filter(pk=delivery.pk).update(
            locked_until=timezone.now() + timedelta(seconds=30)
        )
        return outcome

    monkeypatch.setattr(transport, "send", send_while_the_lease_expires)
    attempt = deliver(delivery.id)
    delivery.refresh_from_db()
    assert (attempt.number, attempt.response_status) == (1, 200)  # what really happened
    assert delivery.status == Status.DELIVERING  # the newer owner's state is kept
    assert delivery.delivered_at is None


@pytest.mark.django_db(transaction=True)
def test_one_attempt_at_a_time_when_kicked_five_times_at_once(receiver, hook):
    receiver.reply_with(Reply(status=500, delay=0.3))
    delivery = make_delivery(hook)
    barrier = threading.Barrier(5)
    results = []

    def kick():
        barrier.wait()
        try:
            results.append(deliver(delivery.id))
        finally:
            connection.close()  # each thread opened its own

    threads = [threading.Thread(target=kick) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if r is not None]) == 1
    assert len(receiver.requests) == 1
    assert run_until_final(delivery).status == Status.SUCCEEDED
    assert [a.number for a in attempts_of(delivery)] == [1, 2]


# --- endpoint health --------------------------------------------------------------------------


def test_failures_start_the_failing_clock_and_a_success_clears_it(receiver, hook):
    receiver.reply_with(500)
    deliver(make_delivery(hook).id)
    hook.refresh_from_db()
    first_failure = hook.failing_since
    assert first_failure is not None
    receiver.reply_with(500)
    deliver(make_delivery(hook).id)
    hook.refresh_from_db()
    assert hook.failing_since == first_failure  # kept: the clock runs from the first failure
    deliver(make_delivery(hook).id)
    hook.refresh_from_db()
    assert hook.failing_since is None


def test_an_exhausted_delivery_disables_a_webhook_failing_for_five_days(
    receiver, hook, webhooks_settings
):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[])  # one attempt, so the first failure exhausts
    receiver.default = Reply(status=500)
    Webhook.objects.filter(pk=hook.pk).update(
        failing_since=timezone.now() - timedelta(days=4, hours=23)
    )
    assert run_until_final(make_delivery(hook)).status == Status.FAILED
    hook.refresh_from_db()
    assert hook.is_active

    Webhook.objects.filter(pk=hook.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )
    assert run_until_final(make_delivery(hook)).status == Status.FAILED
    hook.refresh_from_db()
    assert not hook.is_active
    assert hook.disabled_reason.startswith("no successful delivery for 5 days")
