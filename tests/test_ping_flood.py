"""A flood of test pings to hung endpoints costs the web tier only its share (Procfile topology).

Gunicorn as the Procfile runs it (2 workers x 4 threads), the Procfile's worker and the scheduler,
PostgreSQL, a private Redis, endpoints on 127.0.0.1 that never answer. Test pings from the API,
the admin and the portal flood them while another client emits events and reads the API.
"""

import os
import signal
import subprocess
import uuid

import pytest
import requests

from tests import flood
from tests.conftest import SERVICE_KEY
from tests.factories import WebhookFactory
from tests.hostile import HostileServer
from tests.processes import ROOT, Engine, RedisServer, _free_port, database_url, procfile_command
from tests.support import wait_for
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.services.api_keys import create_api_key

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 2.0  # DELIVERY_TIMEOUT_SECONDS in tests.settings
SHARE = 2 * 4 // 2  # the Procfile's 2 gunicorn workers, half of each one's 4 threads
FLOOD_SECONDS = 6.0
QUICK_SECONDS = 1.0  # every emit, read and refused ping answers within this
DATABASE_WORK_SECONDS = 2.0  # a ping's inserts and record, on a machine shared by many


@pytest.fixture
def topology(tmp_path, settings):
    """The Procfile's web, worker and scheduler on the test database and a private Redis."""
    redis = RedisServer(tmp_path)
    redis.start()
    settings.REDIS_URL = redis.url
    engine = Engine(redis.url, database_url(), tmp_path)
    port = _free_port()
    web = None
    try:
        engine.start_worker(*procfile_command("worker"))
        engine.start_scheduler()
        command = [w.replace("${PORT:-8000}", str(port)) for w in procfile_command("web")]
        log = open(tmp_path / "web.log", "ab")  # noqa: SIM115  (kept open by the child)
        web = subprocess.Popen(
            command,
            cwd=ROOT,
            env=engine.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz"), 60, "gunicorn to answer")
        yield base
    finally:
        if web and web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(30)
        engine.stop()
        redis.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_flood_of_test_pings_to_hung_endpoints_leaves_emits_and_reads_under_a_second(
    topology, receiver
):
    # given a project with six webhooks at an endpoint that never answers...
    hung = HostileServer("silent").start()
    try:
        project = uuid.uuid4()
        hooks = [WebhookFactory(project_id=project, url=hung.url) for _ in range(6)]
        # ...and another project with a healthy endpoint, whose client emits and reads
        quiet = WebhookFactory(url=receiver.url())
        _, read_key = create_api_key(quiet.project_id, "reader", ["webhooks:read"])
        others = [
            flood.emitter(topology, SERVICE_KEY, quiet.project_id),
            flood.reader(topology, read_key, quiet.project_id, quiet.id),
        ]
        # when 15 API pings (5 per webhook: the burst), 3 portal pings and an admin action
        # on two webhooks go out every second for 6 s
        token = f"Access {SERVICE_KEY}"
        pingers = [
            *(flood.api_ping(topology, token, project, h.id) for h in hooks[:3] for _ in range(5)),
            *(flood.portal_ping(topology, project, hooks[3].id) for _ in range(3)),
            flood.admin_ping(topology, [hooks[4].id, hooks[5].id]),
        ]
        answers = flood.run(others, pingers, FLOOD_SECONDS, ping_pace=1.0, other_pace=0.1)
    finally:
        hung.stop()
    by = {kind: [a for a in answers if a.actor == kind] for kind in flood.ACTORS}

    # then every emit and read answered, each in under a second
    for kind, expected in (("emit", 202), ("read", 200)):
        assert by[kind] and {a.status for a in by[kind]} == {expected}, kind
        slowest = max(a.seconds for a in by[kind])
        assert slowest < QUICK_SECONDS, f"{kind}: slowest {slowest:.3f} s of {len(by[kind])}"
    # pings beyond it were refused at once, with Retry-After and a message that says why
    assert {a.status for a in by["api"]} == {200, 429}
    refused = [a for a in by["api"] + by["portal"] if a.status == 429]
    assert any("Too many test pings at once" in a.text for a in refused)
    assert all(a.retry_after and int(a.retry_after) >= 1 for a in refused)
    assert max(a.seconds for a in refused) < QUICK_SECONDS
    assert all("Not sent" in a.text for a in refused if a.actor == "portal")
    # a ping that ran held its thread for its deadline plus its database work (which a loaded
    # machine slows); the admin action, pinging one webhook after the other, stops once one
    # deadline is used
    ran = [a for a in by["api"] + by["portal"] if a.status == 200]
    assert ran and max(a.seconds for a in ran) < DEADLINE_SECONDS + DATABASE_WORK_SECONDS
    slowest_action = max(a.seconds for a in by["admin"])
    assert slowest_action < 2 * DEADLINE_SECONDS + DATABASE_WORK_SECONDS
    # every ping that ran is recorded: one test delivery with one timed-out attempt each
    admin_sent = sum(_sent(a.text) for a in by["admin"])
    tests = Delivery.objects.filter(webhook__in=hooks, trigger=Delivery.Trigger.TEST)
    assert tests.count() == len(ran) + admin_sent
    attempts = DeliveryAttempt.objects.filter(delivery__in=tests)
    assert attempts.count() == tests.count()
    assert set(attempts.values_list("error_kind", flat=True)) == {"timeout"}
    # each sent for no longer than the deadline
    assert max(attempts.values_list("duration_ms", flat=True)) <= DEADLINE_SECONDS * 1000 + 250
    # and never were more pings in flight than the web tier's share (2 per process)
    assert 1 <= flood.most_at_once(attempts) <= SHARE
    # and the other project's deploys were delivered meanwhile
    receiver.wait_for(len(by["emit"]), timeout=30)


def _sent(messages: str) -> int:
    """Return N of the admin action's summary "Sent N test events; M succeeded."."""
    (summary,) = [line for line in messages.splitlines() if line.startswith("Sent ")]
    return int(summary.split()[1])
