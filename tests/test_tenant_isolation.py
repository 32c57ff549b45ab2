"""A project costs only its own share: its attempts in flight are capped across all its webhooks,
in PostgreSQL, so the cap holds across worker processes (machines); another project keeps its
latency while every webhook of the first one hangs.
"""

import statistics
import time
import uuid

import pytest

from tests.factories import WebhookFactory
from tests.hostile import HostileServer
from tests.processes import TASKIQ, Engine, RedisServer, database_url, procfile_command
from tests.support import wait_for
from webhooks.events import EVENT_TYPES
from webhooks.services.emit import emit_webhook_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROJECT_CAP = 8  # WEBHOOKS["MAX_IN_FLIGHT_PER_PROJECT"], the default
DATA = EVENT_TYPES["config.deployed"].example


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engines(private_redis, tmp_path, settings):
    """Start engines (worker + optional scheduler) on our Redis; stop them all at the end."""
    settings.REDIS_URL = private_redis.url  # this process's wake-ups go there too
    started: list[Engine] = []

    def start(name: str) -> Engine:
        logdir = tmp_path / name
        logdir.mkdir()
        engine = Engine(private_redis.url, database_url(), logdir)
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()


def hostile_project(url: str, deploys: int, hung: HostileServer) -> uuid.UUID:
    """A project of 8 webhooks at url, each at the most lanes allowed, and deploys events: one,
    and once the workers send it, the others at 20 per second (each wakes every webhook again:
    more lanes asked for all along)."""
    project = uuid.uuid4()
    for _ in range(8):
        WebhookFactory(project_id=project, url=url, max_in_flight=PROJECT_CAP)
    emit_webhook_event(project, "config.deployed", DATA)
    wait_for(lambda: hung.requests >= 1, 30, "the workers to start sending")
    for _ in range(deploys - 1):
        emit_webhook_event(project, "config.deployed", DATA)
        time.sleep(0.05)
    return project


def test_a_project_of_hung_webhooks_leaves_another_project_its_latency(engines, receiver):
    # given the Procfile's worker (2 processes x 16 threads) and scheduler, and project A's 8
    # webhooks, each at max_in_flight 8, at an endpoint that holds every request (past the 2 s
    # deadline of the test settings), with 40 deploys
    hung = HostileServer("silent").start()
    try:
        engine = engines("procfile")
        engine.start_worker(*procfile_command("worker"))
        engine.start_scheduler()
        hostile_project(hung.url, 40, hung)
        wait_for(lambda: hung.in_flight >= 4, 20, "project A's requests to hang")

        # when project B emits 20 events at 5 per second to a healthy endpoint
        quiet = WebhookFactory(url=receiver.url())
        emitted = {}
        for _ in range(20):
            started = time.monotonic()
            event = emit_webhook_event(quiet.project_id, "config.deployed", DATA)
            emitted[str(event.deliveries.get().id)] = started
            time.sleep(max(0.0, 0.2 - (time.monotonic() - started)))
        arrivals = receiver.wait_for(20, timeout=30)

        # then B's p95 emit-to-receipt stays under a second
        latencies = sorted(a.at - emitted[a.headers["webhook-id"]] for a in arrivals)
        p95 = latencies[int(0.95 * len(latencies)) - 1]
        assert p95 < 1.0, f"p95 {p95:.3f} s; median {statistics.median(latencies):.3f} s"
        # and A never had more than its project's cap in flight, however many lanes it asked for
        assert 1 <= hung.max_in_flight <= PROJECT_CAP
        assert hung.requests >= PROJECT_CAP  # it was being tried all along
    finally:
        hung.stop()


def test_the_project_cap_holds_across_two_machines(engines):
    # given two worker processes started apart (two machines), 6 threads each: 12 threads, more
    # than the project's cap of 8, and fewer than 8 in either
    hung = HostileServer("silent").start()
    try:
        for name in ("machine-1", "machine-2"):
            engines(name).start_worker(
                *(TASKIQ, "worker", "webhooks_project.worker:broker", "webhooks.tasks"),
                *("--workers=1", "--max-threadpool-threads=6", "--max-async-tasks=6"),
                *("--max-prefetch=0", "--wait-tasks-timeout=5"),
            )
        # when one project's 8 hung webhooks, at 8 lanes each, have 40 deploys to send
        hostile_project(hung.url, 40, hung)
        # then its attempts in flight reach the cap, which takes both machines, and never pass it
        wait_for(lambda: hung.max_in_flight >= PROJECT_CAP, 30, "the project's cap to be reached")
        deadline = time.monotonic() + 6  # three more rounds of the 2 s deadline
        while time.monotonic() < deadline:
            assert hung.in_flight <= PROJECT_CAP
            time.sleep(0.05)
        assert hung.max_in_flight == PROJECT_CAP
    finally:
        hung.stop()
