"""Metrics and JSON logs across processes: 2 gunicorn workers, 2 taskiq worker processes and the
scheduler share one PROMETHEUS_MULTIPROC_DIR, and any web process's /metrics adds them all up.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SERVICE_KEY
from tests.factories import WebhookFactory
from tests.receiver import Receiver, Reply
from tests.support import wait_for
from webhooks import events
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IDS = ("delivery_id", "webhook_id", "project_id", "event_id", "attempt", "outcome")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Redis, gunicorn, the taskiq worker and scheduler, each in its own process group."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp = tmp
        self.web_port, redis_port, self.exporter_port = _free_port(), _free_port(), _free_port()
        self.redis_port = redis_port
        (tmp / "metrics").mkdir()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.observability_settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
            "LOG_FORMAT": "json",
            "PYTHONPATH": str(ROOT),
        }
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *command: str, **env: str) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115  (kept open by the child)
        self.running[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_worker(self, **env: str) -> None:
        self.start(
            "worker",
            *(str(BIN / "taskiq"), "worker", "webhooks_project.worker:broker", "webhooks.tasks"),
            *("--workers=2", "--max-threadpool-threads=4", "--max-async-tasks=4"),
            "--wait-tasks-timeout=5",
            **env,
        )

    def start_all(self) -> None:
        self.start(
            "redis",
            *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.tmp)),
        )
        self.start(
            "web",
            *(str(BIN / "gunicorn"), "webhooks_project.wsgi", "--workers", "2"),
            *("--bind", f"127.0.0.1:{self.web_port}", "--access-logfile", "-"),
            *("--logger-class", "webhooks.observability.gunicorn_logger.JsonAwareLogger"),
        )
        self.start_worker()
        self.start("scheduler", sys.executable, "manage.py", "webhooks_scheduler")
        self.start(
            "exporter",
            *(sys.executable, "manage.py", "webhooks_metrics_server"),
            *("--bind", f"127.0.0.1:{self.exporter_port}"),
        )
        wait_for(lambda: self._get("/healthz") is not None, 60, "gunicorn to answer")
        wait_for(lambda: self._listens(self.exporter_port), 60, "the metrics server to listen")

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def stop_all(self) -> None:
        for name in ("exporter", "web", "scheduler", "worker", "redis"):
            if name in self.running:
                self.stop(name)

    @staticmethod
    def _listens(port: int) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def _get(self, path: str, headers: dict | None = None) -> bytes | None:
        request = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read()
        except OSError:
            return None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def emit(self, project_id) -> None:
        body = {"type": "config.deployed", "data": events.EVENT_TYPES["config.deployed"].example}
        request = urllib.request.Request(
            self.url(f"/api/projects/{project_id}/events"),
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Access {SERVICE_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202

    def scrape(self, exporter: bool = False) -> dict[tuple, float]:
        if exporter:  # the separate port: no key
            url = f"http://127.0.0.1:{self.exporter_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read()
        else:
            text = self._get("/metrics", {"Authorization": f"Bearer {SERVICE_KEY}"})
        assert text is not None
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text.decode())
            for sample in family.samples
        }

    def log_lines(self, name: str) -> list[str]:
        return [line for line in (self.tmp / f"{name}.log").read_text().splitlines() if line]


def _database_url(django_db_blocker) -> str:
    with django_db_blocker.unblock():
        db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def processes(tmp_path, django_db_blocker):
    running = Processes(tmp_path, _database_url(django_db_blocker))
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def receivers():
    started = [Receiver().start() for _ in range(3)]
    yield started
    for receiver in started:
        receiver.stop()


def attempts(served: dict, outcome: str) -> float:
    return served.get(
        ("webhooks_delivery_attempts_total", (("outcome", outcome), ("trigger", "auto"))), 0.0
    )


def kinds_of(webhook) -> list[str]:
    return list(
        DeliveryAttempt.objects.filter(delivery__webhook=webhook).values_list(
            "error_kind", flat=True
        )
    )


def test_metrics_add_up_over_processes_and_every_process_logs_json(processes, receivers):
    # given three endpoints: one answers 200, one 500, one too slowly (the timeout is 2 s)
    ok, failing, slow = receivers
    failing.default = Reply(status=500)
    slow.default = Reply(status=200, delay=2.5)
    hooks = [WebhookFactory(url=r.url(), project_id=uuid.uuid4()) for r in receivers]
    # when an event for each is emitted through the web processes
    for hook in hooks:
        processes.emit(hook.project_id)
    wait_for(
        lambda: (
            Delivery.objects.filter(webhook=hooks[0], status="succeeded").exists()
            and Delivery.objects.filter(webhook=hooks[1], status="failed").exists()
            and "timeout" in kinds_of(hooks[2])
        ),
        60,
        "a success, an exhausted failure and a timeout",
    )
    # then one scrape of the web tier counts what every process did
    served = wait_for(
        lambda: (s := processes.scrape()) and attempts(s, "timeout") >= 1 and s, 10, "a scrape"
    )
    assert attempts(served, "success") == 1
    assert attempts(served, "http_error") == 7  # the whole schedule of the 500 endpoint
    assert attempts(served, "timeout") >= 1
    assert served[("webhooks_events_emitted_total", (("type", "config.deployed"),))] == 3
    assert served[("webhooks_deliveries_finished_total", (("status", "succeeded"),))] == 1
    assert served[("webhooks_deliveries_finished_total", (("status", "failed"),))] == 1
    assert served[("webhooks_first_attempt_latency_seconds_count", ())] == 3
    assert time.time() - served[("webhooks_sweep_last_run_timestamp_seconds", ())] < 10
    assert served[("webhooks_stream_consumers_active", ())] == 2  # the two worker processes
    assert served[("webhooks_scrape_source_up", (("source", "redis"),))] == 1
    assert served[("webhooks_metrics_multiprocess", ())] == 1
    pids = {path.stem.rsplit("_", 1)[1] for path in (processes.tmp / "metrics").glob("*.db")}
    assert len(pids) >= 3  # a web process, and both worker processes
    # the exporter of a worker-only machine serves the same counts on its own port
    exported = processes.scrape(exporter=True)
    for outcome in ("success", "http_error"):
        assert attempts(exported, outcome) == attempts(served, outcome)

    # when the worker restarts under the production destination policy
    processes.stop("worker")
    processes.start_worker(TEST_ALLOW_PRIVATE_DESTINATIONS="false")
    blocked_hook = WebhookFactory(url=ok.url(), project_id=uuid.uuid4())
    processes.emit(blocked_hook.project_id)
    wait_for(lambda: kinds_of(blocked_hook), 30, "the blocked attempt")
    # then the blocked attempt is counted (by a receiver of the record, just after its commit),
    # and the stopped processes' counts are kept
    after = wait_for(
        lambda: (s := processes.scrape()) and attempts(s, "blocked") >= 1 and s,
        10,
        "the blocked attempt's count",
    )
    assert kinds_of(blocked_hook) == ["blocked_destination"]
    assert attempts(after, "success") == 1

    # and every line of every process is one JSON object; delivery lines carry the ids
    processes.stop_all()
    records = []
    for name in ("web", "worker", "scheduler"):
        for line in processes.log_lines(name):
            if line.startswith("[") and "][taskiq." in line:
                continue  # the taskiq supervisor's start-up lines, before Django is loaded
            records.append(json.loads(line))  # raises on a line that is not JSON
    failed = [r for r in records if "failed at attempt 7" in r["message"]]
    assert failed and set(IDS) <= set(failed[0])
    assert failed[0]["outcome"] == "http_error"
    assert failed[0]["webhook_id"] == str(hooks[1].id)
    assert failed[0]["project_id"] == str(hooks[1].project_id)
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert any("/metrics" in r["message"] for r in access)


def test_without_the_multiprocess_directory_the_web_tier_says_its_counts_miss_the_workers(
    tmp_path, django_db_blocker
):
    # given the Procfile's gunicorn started without PROMETHEUS_MULTIPROC_DIR
    running = Processes(tmp_path, _database_url(django_db_blocker))
    del running.env["PROMETHEUS_MULTIPROC_DIR"]
    try:
        running.start(
            "web",
            *(str(BIN / "gunicorn"), "webhooks_project.wsgi", "--workers", "1"),
            *("--bind", f"127.0.0.1:{running.web_port}"),
        )
        wait_for(lambda: running._get("/healthz") is not None, 60, "gunicorn to answer")
        # then /metrics says it adds up no other process, and the start-up log says why
        assert running.scrape()[("webhooks_metrics_multiprocess", ())] == 0
        log = (tmp_path / "web.log").read_text()
        assert "webhooks.W060" in log
        assert "PROMETHEUS_MULTIPROC_DIR" in log
    finally:
        running.stop_all()
