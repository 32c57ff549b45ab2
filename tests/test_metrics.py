"""GET /metrics in one process: the counters move with deliveries, the gauges read the tables."""

import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SERVICE_KEY
from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Reply
from webhooks import events
from webhooks.broker import CONSUMER_GROUP, STREAM
from webhooks.engine import sweep
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery
from webhooks.observability import metrics
from webhooks.services import emit_webhook_event

pytestmark = pytest.mark.django_db


def scrape(client=None, key: str = SERVICE_KEY) -> dict[tuple, float]:
    """Return {(sample name, sorted labels): value} from GET /metrics."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def attempts(outcome: str, trigger: str = "auto") -> float:
    labels = {"outcome": outcome, "trigger": trigger}
    return REGISTRY.get_sample_value("webhooks_delivery_attempts_total", labels) or 0.0


def finished(status: str) -> float:
    labels = {"status": status}
    return REGISTRY.get_sample_value("webhooks_deliveries_finished_total", labels) or 0.0


def make_delivery(webhook, **fields) -> Delivery:
    event = EventFactory(project_id=webhook.project_id)
    return DeliveryFactory(webhook=webhook, event=event, **fields)


@pytest.mark.parametrize(
    ("error_kind", "status", "outcome"),
    [
        ("", 200, "success"),
        ("", 204, "success"),
        ("http_status", 500, "http_error"),
        ("http_status", 302, "http_error"),
        ("", 410, "http_error"),
        ("timeout", None, "timeout"),
        ("connection", None, "connect_error"),
        ("dns", None, "connect_error"),
        ("tls", None, "connect_error"),
        ("invalid_response", None, "connect_error"),
        ("blocked_destination", None, "blocked"),
        ("webhook_disabled", None, "blocked"),
        ("internal_error", None, "internal_error"),
        ("", None, "internal_error"),
        ("a kind added later", None, "internal_error"),
    ],
)
def test_each_attempt_maps_to_one_outcome_label(error_kind, status, outcome):
    assert metrics.outcome_of(error_kind, status) == outcome
    assert outcome in metrics.OUTCOMES


@pytest.mark.parametrize("header", [None, "Bearer nope", "Access nope", "ApiKey " + SERVICE_KEY])
def test_metrics_need_the_service_key(header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401
    assert b"webhooks_" not in response.content


def test_metrics_accept_the_service_key_as_bearer_or_access():
    for scheme in ("Bearer", "Access"):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"{scheme} {SERVICE_KEY}")
        assert response.status_code == 200


def test_the_counters_move_as_deliveries_succeed_fail_time_out_and_are_blocked(
    receiver, webhooks_settings
):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[60], DELIVERY_TIMEOUT_SECONDS=0.5)
    hook = WebhookFactory(url=receiver.url())
    before = {o: attempts(o) for o in metrics.OUTCOMES} | {s: finished(s) for s in ("succeeded",)}
    latency_before = REGISTRY.get_sample_value("webhooks_first_attempt_latency_seconds_count")
    receiver.reply_with(200, 500, Reply(status=200, delay=2))

    for _ in range(3):
        deliver(make_delivery(hook).id)
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    deliver(make_delivery(hook).id)

    assert attempts("success") - before["success"] == 1
    assert attempts("http_error") - before["http_error"] == 1
    assert attempts("timeout") - before["timeout"] == 1
    assert attempts("blocked") - before["blocked"] == 1
    assert finished("succeeded") - before["succeeded"] == 1
    latency_after = REGISTRY.get_sample_value("webhooks_first_attempt_latency_seconds_count")
    assert latency_after - latency_before == 4
    # the same numbers are what /metrics serves
    served = scrape()
    key = ("webhooks_delivery_attempts_total", (("outcome", "timeout"), ("trigger", "auto")))
    assert served[key] == attempts("timeout")
    bucket = (
        "webhooks_delivery_attempt_duration_seconds_bucket",
        (("le", "0.25"), ("outcome", "timeout")),
    )
    assert key in served and bucket in served


def test_emit_counts_events_by_type_and_replays_are_not_counted():
    project = WebhookFactory().project_id
    sample = ("webhooks_events_emitted_total", {"type": "config.committed"})
    before = REGISTRY.get_sample_value(*sample) or 0.0
    data = events.EVENT_TYPES["config.committed"].example
    emit_webhook_event(project, "config.committed", data, idempotency_key="k1")
    emit_webhook_event(project, "config.committed", data, idempotency_key="k1")
    assert REGISTRY.get_sample_value(*sample) - before == 1


def test_the_sweep_sets_the_last_sweep_time(woken):
    sweep.dispatch_due()
    last = REGISTRY.get_sample_value("webhooks_sweep_last_run_timestamp_seconds")
    assert time.time() - 5 < last <= time.time()


def test_the_scrape_reads_backlog_leases_and_webhook_health():
    now = timezone.now()
    hook = WebhookFactory()
    failing = WebhookFactory(failing_since=now - timedelta(hours=2))
    WebhookFactory(is_active=False)
    WebhookFactory(is_active=False, deleted_at=now)  # deleted: not counted
    make_delivery(hook, next_attempt_at=now - timedelta(seconds=90))
    make_delivery(hook, next_attempt_at=now - timedelta(seconds=10))
    make_delivery(hook, next_attempt_at=now + timedelta(minutes=5))  # not due yet
    make_delivery(hook, status="delivering", locked_until=now - timedelta(seconds=1))
    make_delivery(hook, status="delivering", locked_until=now + timedelta(seconds=30))

    served = scrape()

    assert served[("webhooks_backlog_due_deliveries", ())] == 2
    assert 90 <= served[("webhooks_backlog_oldest_due_age_seconds", ())] < 120
    assert served[("webhooks_expired_leases", ())] == 1
    assert served[("webhooks_failing_webhooks", ())] == 1
    assert served[("webhooks_disabled_webhooks", ())] == 1
    labels = (("project_id", str(failing.project_id)), ("webhook_id", str(failing.id)))
    assert 7200 <= served[("webhooks_webhook_failing_seconds", labels)] < 7300
    assert served[("webhooks_scrape_source_up", (("source", "database"),))] == 1


def test_counts_stop_at_the_limit(webhooks_settings):
    webhooks_settings(METRICS_COUNT_LIMIT=2)
    hook = WebhookFactory()
    for _ in range(3):
        make_delivery(hook, next_attempt_at=timezone.now() - timedelta(seconds=5))
    assert scrape()[("webhooks_backlog_due_deliveries", ())] == 2


def test_the_scrape_reads_the_stream_lag_pending_and_live_consumers():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(STREAM)
    try:
        client.xgroup_create(STREAM, CONSUMER_GROUP, id="0", mkstream=True)
        for n in range(3):
            client.xadd(STREAM, {"data": f"message {n}"})
        client.xreadgroup(CONSUMER_GROUP, "worker-1", {STREAM: ">"}, count=1)

        served = scrape()

        assert served[("webhooks_stream_lag", ())] == 2
        assert served[("webhooks_stream_pending", ())] == 1
        assert served[("webhooks_stream_consumers_active", ())] == 1
        assert served[("webhooks_scrape_source_up", (("source", "redis"),))] == 1
    finally:
        client.delete(STREAM)


def test_an_unreachable_redis_is_reported_down_not_an_error(settings, unused_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port}/0"
    served = scrape()
    assert served[("webhooks_scrape_source_up", (("source", "redis"),))] == 0
    assert ("webhooks_stream_lag", ()) not in served
    assert ("webhooks_backlog_due_deliveries", ()) in served


def test_the_lanes_gauge_counts_webhooks_whose_lanes_are_all_taken():
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import WebhookFactory
    from webhooks.models import Lane, Webhook

    soon = timezone.now() + timedelta(seconds=30)
    full, half, free = WebhookFactory(max_in_flight=2), WebhookFactory(), WebhookFactory()
    for slot in (0, 1):
        Lane.objects.create(webhook=full, slot=slot, token=full.id, expires_at=soon)
    Lane.objects.create(webhook=half, slot=0, token=half.id, expires_at=soon)  # 1 of 4 taken
    Lane.objects.create(webhook=free, slot=0, token=free.id, expires_at=timezone.now())  # ended
    assert scrape()[("webhooks_lanes_saturated", ())] == 1
    Webhook.objects.filter(pk=half.pk).update(circuit_open_since=timezone.now())  # one lane now
    assert scrape()[("webhooks_lanes_saturated", ())] == 2


def test_the_circuit_gauge_counts_active_webhooks_held_to_one_lane():
    from django.utils import timezone

    from tests.factories import WebhookFactory

    WebhookFactory(circuit_open_since=timezone.now(), consecutive_failures=3)
    WebhookFactory(circuit_open_since=timezone.now(), is_active=False)  # disabled: not counted
    WebhookFactory(consecutive_failures=2)  # failing, circuit still closed
    assert scrape()[("webhooks_circuit_open_webhooks", ())] == 1


def test_the_metrics_server_needs_the_multiprocess_directory(monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(CommandError, match="PROMETHEUS_MULTIPROC_DIR"):
        call_command("webhooks_metrics_server", "--bind", "127.0.0.1:0")
