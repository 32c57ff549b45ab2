"""docs/operations.md: every command and query on the page runs and reports what it says.

Blocks are marked `<!-- ops: NAME -->`. The SQL queries run against the test database holding
deliveries in each state; the shell blocks run with bash against a live test server
(`$BASE`), the test database (`$DATABASE_URL`) and a private redis-server started with the
page's own configuration (`$REDIS_URL`).
"""

import asyncio
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.utils import timezone

from tests.conftest import SERVICE_KEY
from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks import broker as broker_module
from webhooks.broker import CONSUMER_GROUP, LEGACY_STREAMS, STREAM
from webhooks.conf import DEFAULTS
from webhooks.engine import wakeups
from webhooks.models import Delivery, Webhook
from webhooks.services.audit import record_secret_read

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "operations.md"
BLOCK = re.compile(r"<!-- ops: ([\w -]+?) -->\n```(\w+)\n(.*?)\n```", re.S)
SQL = ["backlog", "stuck", "failed", "failing", "disabled", "connections", "secret-reads"]
SQL += ["kept-live", "table-sizes"]  # run by tests/test_cleanup.py
SHELL = ["redis-check", "cron", "readyz", "redis-monitor", "recover", "rotate-keys", "metrics"]
SHELL += ["stream-rename"]
TIMEOUT_SECONDS = 60

needs_redis_cli = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="no redis-cli")


def blocks() -> dict[str, str]:
    found = BLOCK.findall(DOC.read_text())
    names = [name for name, _, _ in found if not name.startswith("output ")]
    assert sorted(names) == sorted([*SQL, *SHELL, "redis-conf"]), "a block is not tested"
    return {name: code for name, _, code in found}


def test_every_command_block_on_the_page_is_tested():
    text = DOC.read_text()
    fenced = re.findall(r"(<!-- ops: [\w -]+ -->\n)?```(sh|sql|conf)\n", text)
    assert len(fenced) == len(SQL) + len(SHELL) + 1
    assert all(marker for marker, _ in fenced), "an untested sh/sql/conf block"


def run_block(code: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, f"{code}\n--- stderr:\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.fixture(scope="module")
def documented_redis(tmp_path_factory):
    """A private redis-server configured with the page's redis.conf lines; yield its URL."""
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    conf = workdir / "redis.conf"
    conf.write_text(
        f'{blocks()["redis-conf"]}\nport {port}\nbind 127.0.0.1\ndir {workdir}\nsave ""\n'
    )
    server = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=2)
    deadline = time.monotonic() + 10
    while not _ping(client):
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


@needs_redis_cli
def test_the_redis_check_shows_the_documented_settings(documented_redis):
    output = run_block(blocks()["redis-check"], REDIS_URL=documented_redis)

    assert output.splitlines() == blocks()["output redis-check"].splitlines()


@needs_redis_cli
def test_the_redis_monitoring_commands_show_the_queue(documented_redis, settings):
    # given a consumer group, as a worker declares it, and three woken webhooks
    client = redis.Redis.from_url(documented_redis)
    client.xgroup_create(STREAM, CONSUMER_GROUP, id="0", mkstream=True)
    settings.REDIS_URL = documented_redis
    assert wakeups.wake([str(uuid.uuid4()) for _ in range(3)]) == 3

    # when
    lines = run_block(blocks()["redis-monitor"], REDIS_URL=documented_redis).splitlines()

    # then the length, the unread messages and the memory limit show
    assert lines[0] == "3"
    group = lines[1:-2]
    assert group[group.index("name") + 1] == CONSUMER_GROUP
    assert group[group.index("lag") + 1] == "3"
    assert lines[-2].startswith("used_memory_human:")
    assert lines[-1] == "maxmemory_human:256.00M"


@needs_redis_cli
def test_a_wake_up_left_in_the_old_stream_is_read_and_the_stream_can_go(documented_redis):
    # given a wake-up that a 0.2 web process added to the old stream during a rolling deploy
    (legacy,) = LEGACY_STREAMS
    client = redis.Redis.from_url(documented_redis)
    client.delete(legacy, STREAM)
    client.xadd(legacy, {b"data": b"old wake-up"})
    reader = broker_module.make_broker(documented_redis)
    reader.block = 100  # ms

    # when a 0.3 worker starts (declaring its group on both streams) and reads
    async def read_one() -> bytes:
        await reader.startup()
        read = reader._read()
        message = await asyncio.wait_for(anext(read), timeout=5)
        await message.ack()
        await read.aclose()
        await reader.shutdown()
        return message.data

    assert asyncio.run(read_one()) == b"old wake-up"

    # then the page's check shows nothing unread or unfinished there, and the stream goes
    lines = run_block(blocks()["stream-rename"], REDIS_URL=documented_redis).splitlines()
    info = dict(zip(lines[:-1:2], lines[1:-1:2], strict=True))
    assert (info["name"], info["lag"], info["pending"]) == (CONSUMER_GROUP, "0", "0")
    assert lines[-1] == "1" and not client.exists(legacy)


def _query(name: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(blocks()[name])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.django_db
def test_the_monitoring_queries_report_each_kind_of_trouble():
    # given deliveries and webhooks in every state the queries look for
    now = timezone.now()
    down = WebhookFactory(failing_since=now - timedelta(days=2))
    WebhookFactory(failing_since=now - timedelta(hours=1))
    disabled = WebhookFactory(is_active=False, disabled_at=now - timedelta(hours=1))
    WebhookFactory(is_active=False, disabled_at=now - timedelta(days=3))
    WebhookFactory(is_active=False, disabled_at=now, deleted_at=now)

    def delivery(webhook=down, **fields) -> Delivery:
        event = EventFactory(project_id=webhook.project_id)
        return DeliveryFactory(webhook=webhook, event=event, **fields)

    delivery(status="pending", next_attempt_at=now - timedelta(minutes=3))
    delivery(status="pending", next_attempt_at=now - timedelta(minutes=1))
    delivery(status="pending", next_attempt_at=now + timedelta(hours=1))
    delivery(status="succeeded")
    delivery(status="delivering", locked_until=now - timedelta(minutes=2))
    delivery(status="delivering", locked_until=now + timedelta(seconds=20))
    for _ in range(3):
        delivery(status="failed", last_error="HTTP 503 Service Unavailable")
    old = delivery(webhook=disabled, status="failed", last_error="HTTP 410 Gone")
    Delivery.objects.filter(id=old.id).update(updated_at=now - timedelta(hours=2))

    # when the page's queries run, then each reports exactly what it is about
    (backlog,) = _query("backlog")
    assert backlog["due"] == 2
    assert timedelta(minutes=2, seconds=50) < backlog["oldest"] < timedelta(minutes=5)
    assert _query("stuck") == [{"stuck": 1}]
    assert _query("failed") == [
        {"webhook_id": down.id, "failed": 3, "last_error": "HTTP 503 Service Unavailable"}
    ]
    assert [row["id"] for row in _query("failing")] == [down.id]
    # URLs are encrypted at rest (they may carry tokens): the queries show names.
    assert [(row["id"], row["name"]) for row in _query("disabled")] == [
        (disabled.id, disabled.name)
    ]
    (connections,) = _query("connections")
    assert 1 <= connections["connections"] <= connections["max_connections"]


@pytest.fixture
def live_env(live_server) -> dict[str, str]:
    """The environment the page's shell blocks expect, pointing at the test services."""
    db = connection.settings_dict
    return {
        "BASE": live_server.url,
        "WEBHOOKS_AUTH_KEY": SERVICE_KEY,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.django_db(transaction=True)
def test_readyz_and_the_cron_jobs_run_by_hand(live_env):
    ready = run_block(blocks()["readyz"], **live_env)
    lines = run_block(blocks()["cron"], **live_env).splitlines()

    assert ready.strip() == blocks()["output readyz"]
    assert len(lines) == 4
    assert re.match(r"^\S+Z webhooks-retry ok: \{.*\"woken\":0\}$", lines[0])
    assert re.match(r"^\S+Z webhooks-cleanup ok: \{\"days\":30,.*\"dry_run\":false\}$", lines[1])
    assert lines[2].startswith("webhooks_retry_stuck: 0 expired leases")
    assert lines[3].startswith("webhooks_cleanup: would delete 0 deliveries")


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.django_db(transaction=True)
def test_the_metrics_command_shows_the_documented_gauges(live_env):
    output = run_block(blocks()["metrics"], **live_env)

    assert output.splitlines() == blocks()["output metrics"].splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
@pytest.mark.django_db(transaction=True)
def test_the_recovery_commands_bring_a_disabled_webhook_back(live_env, receiver):
    # given a webhook disabled after its endpoint failed, with failed deliveries 1 and 5 days old
    now = timezone.now()
    hook = WebhookFactory(
        url=receiver.url(), is_active=False, disabled_at=now, disabled_reason="no success"
    )
    recent = [
        DeliveryFactory(
            webhook=hook, event=EventFactory(project_id=hook.project_id), status="failed"
        )
        for _ in range(2)
    ]
    old = DeliveryFactory(
        webhook=hook, event=EventFactory(project_id=hook.project_id), status="failed"
    )
    Delivery.objects.filter(id__in=[d.id for d in recent]).update(
        created_at=now - timedelta(days=1)
    )
    Delivery.objects.filter(id=old.id).update(created_at=now - timedelta(days=5))

    # when the endpoint is back and the page's commands run
    output = run_block(
        blocks()["recover"], **live_env, PROJECT=str(hook.project_id), WEBHOOK=str(hook.id)
    )

    # then the ping reached it, the webhook is enabled, and the last 3 days' failures are queued
    (ping,) = receiver.wait_for(1)
    assert ping.headers["x-agenta-event"] == "webhook.test"
    assert Webhook.objects.get(id=hook.id).is_active
    assert output.rstrip().endswith('{"count":2}')
    queued = Delivery.objects.filter(status="pending", trigger="recover")
    assert sorted(queued.values_list("id", flat=True)) == sorted(d.id for d in recent)
    assert Delivery.objects.get(id=old.id).status == "failed"


def test_the_tests_cited_as_proof_exist():
    cited = re.findall(r"`(?:(tests/\w+\.py)::)?(test_\w+)`", DOC.read_text())
    assert len(cited) >= 10
    for path, name in cited:
        source = (ROOT / (path or "tests/test_worker_integration.py")).read_text()
        assert f"def {name}(" in source, f"{path or 'test_worker_integration'}::{name}"


def _procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name: shlex.split(cmd) for name, _, cmd in (line.partition(": ") for line in lines)}


def _flag(argv: list[str], name: str) -> int:
    return int(argv[argv.index(name) + 1])


def test_the_process_table_and_the_connection_budget_follow_the_procfile():
    procfile, text = _procfile(), DOC.read_text()
    for name in ("web", "worker", "scheduler"):
        row = re.search(rf"^\| {name} \| `([^`]+)` \|", text, re.M)
        assert row, f"no {name} row"
        assert set(shlex.split(row.group(1))) <= set(procfile[name]), name
    worker, web = procfile["worker"], procfile["web"]
    numbers = (
        _flag(worker, "--workers"),
        _flag(worker, "--max-threadpool-threads") + 1,  # and the heartbeat's connection
        _flag(web, "--workers"),
        _flag(web, "--threads"),
    )
    total = numbers[0] * numbers[1] + numbers[2] * numbers[3]
    budget = "{} x {} + {} x {} = {}".format(*numbers, total)
    assert budget in text
    assert budget in (ROOT / "README.md").read_text()


def _shown(default) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, list):
        return ", ".join(_shown(item) for item in default)
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_the_tunables_table_lists_every_setting_with_its_default():
    table = DOC.read_text().partition("### Every tunable")[2].partition("\n### ")[0]
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", table, re.M))

    assert set(rows) == set(DEFAULTS)
    for key, default in DEFAULTS.items():
        expected = "not `DEBUG`" if key == "REQUIRE_HTTPS" else _shown(default)
        assert rows[key].strip() == expected, key


@pytest.mark.django_db
def test_the_audit_query_lists_who_read_which_secret():
    webhook = WebhookFactory()
    record_secret_read(webhook, actor="staff:root", address="192.0.2.1", via="admin")

    (read,) = _query("secret-reads")

    assert (read["actor"], read["via"], read["webhook_id"]) == ("staff:root", "admin", webhook.id)


@pytest.mark.django_db(transaction=True)
def test_the_key_rotation_procedure_lets_the_old_key_go(settings, live_env):
    # given webhooks stored under the old key only
    old, new = "the-old-key", "the-new-key"
    settings.WEBHOOKS_ENCRYPTION_KEYS = [old]
    hooks = [WebhookFactory(headers={"X-Token": "t"}) for _ in range(3)]

    # when the page's commands run
    output = run_block(blocks()["rotate-keys"], **live_env, OLD_KEY=old, NEW_KEY=new)

    # then the rotation reported its work, the check passed, and the new key alone reads all
    assert "re-encrypted 9 values" in output
    assert output.rstrip().endswith("System check identified no issues (0 silenced).")
    settings.WEBHOOKS_ENCRYPTION_KEYS = [new]
    for hook in hooks:
        stored = Webhook.objects.get(id=hook.id)
        assert (stored.secret, stored.url, stored.headers) == (hook.secret, hook.url, hook.headers)
