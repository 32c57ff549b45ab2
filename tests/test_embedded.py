"""The embedded mode: `manage.py runserver --noreload` with no Redis delivers and retries."""

import os
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support import wait_for as _wait

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import django, uuid
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.utils import timezone
from webhooks.models import Delivery, Event, Webhook
from webhooks.signing import generate_secret
project = uuid.uuid4()
hook = Webhook.objects.create(
    project_id=project, name="h", url=sys.argv[1], secret=generate_secret()
)
event = Event.objects.create(project_id=project, type="config.deployed", body='{"n":1}')
Delivery.objects.create(event=event, webhook=hook, next_attempt_at=timezone.now())
"""


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status
    except OSError:
        return None


def test_the_embedded_server_delivers_and_retries_without_redis(receiver, tmp_path, unused_port):
    # given an embedded install (SQLite, no Redis) holding one pending delivery
    database = tmp_path / "embedded.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "tests.embedded_settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "true",
        "WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS": "true",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-c", "import sys\n" + SETUP, receiver.url()],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    receiver.reply_with(500, 200)
    # when the server runs and serves its first request
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{unused_port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{unused_port}/healthz"), 30, "runserver")
        # then the delivery fails once, is retried, and succeeds
        status, attempts = _wait(lambda: _finished(database), 15, "the delivery to end")
    finally:
        server.terminate()
        server.wait(10)
    assert (status, attempts) == ("succeeded", 2)
    first, second = receiver.requests
    assert second.at - first.at >= 0.5
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def _finished(database: Path) -> tuple[str, int] | None:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT status, attempt_count FROM webhooks_delivery").fetchone()
    return row if row[0] in ("succeeded", "failed") else None
