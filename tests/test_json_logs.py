"""LOG_FORMAT=json: one JSON object per line, carrying the ids of the request or delivery."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks import events
from webhooks.engine.lanes import deliver
from webhooks.observability import logs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_lines():
    """Capture root log records as the json console handler writes them; return the lines.

    The test starts with an empty log context (a delivery run by an earlier test in this thread
    left its ids bound, as no task or request scoped it) and leaves it as it found it.
    """
    token = logs.clear()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        logs.restore(token)


def test_a_line_is_one_json_object_with_the_bound_ids_and_the_exception(json_lines):
    logs.bind(delivery_id="d-1", attempt=3, event_id=None)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("webhooks.test").exception("attempt %d of %s", 3, "d-1")
    (line,) = json_lines()
    assert line["message"] == "attempt 3 of d-1"
    assert (line["level"], line["logger"]) == ("ERROR", "webhooks.test")
    assert (line["delivery_id"], line["attempt"]) == ("d-1", "3")
    assert "event_id" not in line  # None is not bound
    assert "ValueError: boom" in line["exception"]


@pytest.mark.django_db
def test_a_delivery_logs_its_ids_attempt_and_outcome(json_lines, receiver, webhooks_settings):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[])
    hook = WebhookFactory(url=receiver.url())
    delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    receiver.reply_with(500)
    deliver(delivery.id)
    (failed,) = [line for line in json_lines() if "failed at attempt" in line["message"]]
    assert failed == {
        **failed,
        "delivery_id": str(delivery.id),
        "webhook_id": str(hook.id),
        "project_id": str(hook.project_id),
        "event_id": str(delivery.event_id),
        "attempt": "1",
        "outcome": "http_error",
    }


@pytest.mark.django_db
def test_a_request_logs_the_ids_in_its_url_and_the_next_one_does_not(json_lines, service_client):
    hook = WebhookFactory()
    data = events.EVENT_TYPES["config.deployed"].example
    url = f"/api/projects/{hook.project_id}/events"
    body = {"type": "config.deployed", "data": data}
    assert service_client.post(url, body, format="json").status_code == 202
    assert service_client.get("/healthz").status_code == 200
    logging.getLogger("webhooks.test").info("after the requests")

    lines = json_lines()
    (emitted,) = [line for line in lines if "fans out" in line["message"]]
    assert emitted["project_id"] == str(hook.project_id)
    assert "project_id" not in lines[-1]


def test_every_process_switches_with_log_format(tmp_path):
    # A management command: Django's LOGGING, read from the environment at start.
    code = (
        "import django, logging; django.setup(); "
        "from webhooks.observability import logs; logs.bind(webhook_id='w-1'); "
        "logging.getLogger('webhooks.cli').warning('one \"quoted\" line')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}

    def run(log_format: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "LOG_FORMAT": log_format},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stderr.strip()

    line = json.loads(run("json"))
    assert (line["message"], line["webhook_id"]) == ('one "quoted" line', "w-1")
    plain = run("text")
    assert plain.endswith('WARNING webhooks.cli one "quoted" line')


def test_gunicorn_gets_the_json_aware_logger_wherever_it_is_started():
    from django.utils.module_loading import import_string
    from gunicorn.glogging import Logger

    name = "webhooks.observability.gunicorn_logger.JsonAwareLogger"
    assert issubclass(import_string(name), Logger)
    for path in ("Procfile", "deploy/docker-compose.yml", "deploy/Dockerfile"):
        text = (ROOT / path).read_text()
        assert text.count("gunicorn") >= 1 and name in text, path
