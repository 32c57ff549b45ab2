"""Traces: a deploy's trace runs from Agenta's request through the emit to every attempt, and on
to the receiver in its traceparent header; with no OTEL_* settings nothing is traced or sent.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.factories import WebhookFactory
from tests.receiver import Receiver, Reply
from webhooks import events
from webhooks.apps import connect_tracing
from webhooks.engine import sweep
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, Event
from webhooks.observability import tracing
from webhooks.services import emit_webhook_event
from webhooks.services.retention import cleanup

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
AGENTA_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENTA_SPAN_ID = "00f067aa0ba902b7"
AGENTA_TRACEPARENT = f"00-{AGENTA_TRACE_ID}-{AGENTA_SPAN_ID}-01"


@pytest.fixture
def spans():
    """Trace this test into memory, as configure() does from OTEL_* in a real process."""
    exporter = InMemorySpanExporter()
    tracing.configure(exporter, set_global=False)
    connect_tracing()
    yield exporter
    connect_tracing(False)
    tracing.shutdown()


@pytest.fixture
def failing_receiver():
    server = Receiver().start()
    server.default = Reply(status=500)
    yield server
    server.stop()


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _parent_id(traceparent: str) -> str:
    return traceparent.split("-")[2]  # version-trace_id-parent_id-flags


def test_a_deploys_trace_runs_from_agentas_request_to_every_attempt_and_receiver(
    spans, make_key_client, receiver, failing_receiver
):
    # given a project with two webhooks, one of whose endpoints fails
    project = uuid.uuid4()
    ok = WebhookFactory(project_id=project, url=receiver.url("/ok"))
    failing = WebhookFactory(project_id=project, url=failing_receiver.url("/failing"))
    client = make_key_client(project, scopes=("events:emit",))

    # when Agenta emits a deploy inside its own trace, and the deliveries are attempted
    body = {"type": "config.deployed", "data": events.EVENT_TYPES["config.deployed"].example}
    answer = client.post(
        f"/api/projects/{project}/events", body, format="json", HTTP_TRACEPARENT=AGENTA_TRACEPARENT
    )
    assert answer.status_code == 202, answer.json()
    event = Event.objects.get(id=answer.json()["id"])
    for delivery in Delivery.objects.filter(event=event):
        deliver(delivery.id, trigger="auto")
    got_ok, got_failing = receiver.wait_for(1)[0], failing_receiver.wait_for(1)[0]

    # then the API request's span continues Agenta's trace, and the emit and store are within it
    finished = spans.get_finished_spans()
    by_id = {_hex(s.context.span_id, 16): s for s in finished}
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert _hex(server.context.trace_id, 32) == AGENTA_TRACE_ID
    assert _hex(server.parent.span_id, 16) == AGENTA_SPAN_ID
    (emit,) = [s for s in finished if s.name == "webhooks.emit"]
    (store,) = [s for s in finished if s.name == "webhooks.store"]
    assert emit.parent.span_id == server.context.span_id
    assert store.parent.span_id == emit.context.span_id
    # and the event keeps the emit's context, the parent of every attempt's span
    assert _parent_id(event.trace_context["traceparent"]) == _hex(emit.context.span_id, 16)
    attempts = {
        s.attributes["webhooks.webhook_id"]: s for s in finished if s.name == "webhooks.attempt"
    }
    assert set(attempts) == {str(ok.id), str(failing.id)}
    for attempt in attempts.values():
        assert attempt.parent.span_id == emit.context.span_id
        assert _hex(attempt.context.trace_id, 32) == AGENTA_TRACE_ID
        assert attempt.attributes["webhooks.event_type"] == "config.deployed"
        assert attempt.attributes["webhooks.attempt"] == 1
        assert attempt.attributes["webhooks.duration_ms"] >= 0
    succeeded, failed = attempts[str(ok.id)], attempts[str(failing.id)]
    assert succeeded.attributes["webhooks.outcome"] == "success"
    assert succeeded.attributes["http.response.status_code"] == 200
    assert succeeded.status.status_code != StatusCode.ERROR
    assert failed.attributes["webhooks.outcome"] == "http_error"
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.status.status_code == StatusCode.ERROR

    # and each receiver got a traceparent of Agenta's trace, its parent the request's span,
    # a child of that webhook's attempt span
    for request, webhook in ((got_ok, ok), (got_failing, failing)):
        traceparent = request.headers["traceparent"]
        assert traceparent.split("-")[1] == AGENTA_TRACE_ID
        sent = by_id[_parent_id(traceparent)]
        assert sent.kind == SpanKind.CLIENT
        assert sent.parent.span_id == attempts[str(webhook.id)].context.span_id
        assert "/failing" not in str(sent.attributes) and "/ok" not in str(sent.attributes)


def test_the_sweep_and_the_cleanup_have_spans(spans):
    sweep.dispatch_due()
    cleanup(days=30)
    names = [s.name for s in spans.get_finished_spans() if s.parent is None]
    assert "webhooks.sweep" in names
    assert "webhooks.cleanup" in names
    (swept,) = [s for s in spans.get_finished_spans() if s.name == "webhooks.sweep"]
    assert swept.attributes["webhooks.woken"] == 0


def test_with_no_otel_settings_nothing_is_traced_stored_or_sent(receiver):
    # given this test process, started without OTEL_* settings
    assert not tracing.enabled()
    webhook = WebhookFactory(url=receiver.url())
    # when an event is emitted and delivered
    event = emit_webhook_event(
        webhook.project_id, "config.deployed", {**events.EVENT_TYPES["config.deployed"].example}
    )
    deliver(Delivery.objects.get(event=event).id, trigger="auto")
    # then the event has no trace context and the request no traceparent
    assert Event.objects.get(id=event.id).trace_context == {}
    assert "traceparent" not in receiver.wait_for(1)[0].headers


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "webhooks"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
            False,
        ),
    ],
)
def test_tracing_is_on_only_when_otel_settings_say_where_to_send(environ, wanted):
    assert tracing.wanted(environ) is wanted


_PROBE = """
import sys, django
django.setup()
from webhooks.observability import tracing
print("enabled", tracing.enabled(), "sdk loaded", "opentelemetry.sdk.trace" in sys.modules)
with tracing.span("webhooks.probe"):
    pass
"""


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
        ({}, False),
    ],
)
def test_a_process_reads_the_otel_settings_at_startup(environ, enabled):
    # given a new process started with these variables (and no other OTEL_* ones)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(environ, DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # then it traces, into the console exporter, only when asked; off, the SDK isn't even loaded
    assert f"enabled {enabled} sdk loaded {enabled}" in done.stdout
    assert ('"name": "webhooks.probe"' in done.stdout) is enabled


def test_the_portal_link_the_probes_and_the_scrapes_are_not_traced(spans, client):
    # the portal link carries its single-use token in the query string
    client.get("/portal/open?token=a-single-use-token")
    client.get("/healthz")
    client.get("/readyz")
    client.get("/api/event-types")
    served = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert len(served) == 1  # the API call only
    assert "a-single-use-token" not in str([s.attributes for s in spans.get_finished_spans()])
