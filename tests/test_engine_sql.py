"""The engine's statements on PostgreSQL: prepared on their connection, so PostgreSQL plans each
once and not at every lone delivery (WEBHOOKS["PREPARED_STATEMENTS"] = False, for a pooler that
can't keep them, sends them unprepared); a lone delivery is three statements, with no health
check round trip before them, and a connection that died while idle is replaced."""

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.support import wait_for
from webhooks.conf import app_settings
from webhooks.engine import lanes
from webhooks.engine import pgstatements as statements
from webhooks.engine.pgstore import PgStore
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Lane, ProjectSlot
from webhooks.services.emit import emit_webhook_event

pytestmark = pytest.mark.django_db

LONE_DELIVERIES = 8


def prepared() -> dict[str, int]:
    """Return this connection's prepared statements: their text -> how often they were planned
    or run from a plan (generic plans count once per execution)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def lone_deliveries(hook, count: int) -> None:
    """Deliver count deliveries of hook one at a time, each in a lane of its own."""
    for _ in range(count):
        delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
        assert lanes.run_lane(hook.id) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempt_count) == (Delivery.Status.SUCCEEDED, 1)


def test_a_lone_deliverys_statements_are_prepared_and_reused(receiver):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)  # the first wake-up makes the lane slots

    lone_deliveries(hook, LONE_DELIVERIES)

    engine = {text: runs for text, runs in prepared().items() if "webhooks_delivery" in text}
    # taking the lane with the claim, the record that gives the lane back
    assert len([runs for runs in engine.values() if runs >= LONE_DELIVERIES]) >= 2, engine
    assert len(receiver.requests) == LONE_DELIVERIES


def test_every_engine_statement_is_parsed_once_not_at_each_execution(receiver):
    # psycopg caches its parse of a statement's text only up to a length (engine/pgsql.py)
    from psycopg import _queries

    longest = max(
        len(statements.sql(getattr(statements, name), durable))
        for name in ("ACQUIRE", "CLAIM_NEXT", "RECORD", "RECORD_AND_CLAIM_NEXT", "CLAIM_ONE")
        for durable in (True, False)
    )
    assert longest <= _queries.MAX_CACHED_STATEMENT_LENGTH
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)  # the first wake-up makes the lane slots
    lone_deliveries(hook, 2)
    before = _queries._query2pg.cache_info()
    lone_deliveries(hook, 3)  # three statements each, all parsed before
    after = _queries._query2pg.cache_info()
    assert after.misses == before.misses
    assert after.hits - before.hits >= 3 * 3  # the record with the release included


def test_an_emits_statement_is_prepared_and_reused():
    hook = WebhookFactory()
    data = EVENT_TYPES["config.deployed"].example

    for _ in range(LONE_DELIVERIES):
        emit_webhook_event(hook.project_id, "config.deployed", data)

    emit = {t: runs for t, runs in prepared().items() if "jsonb_populate_recordset" in t}
    # one, and it ran once more than the emits: the first read the project's subscriptions
    assert list(emit.values()) == [LONE_DELIVERIES + 1], emit
    assert Delivery.objects.filter(webhook=hook).count() == LONE_DELIVERIES


def test_with_the_setting_off_nothing_is_prepared(receiver, webhooks_settings):
    webhooks_settings(PREPARED_STATEMENTS=False)
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    before = prepared()

    lone_deliveries(hook, 3)

    assert prepared() == before  # none added, none run again
    assert len(receiver.requests) == 3


def test_a_lone_delivery_is_three_statements(receiver):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))

    with CaptureQueriesContext(connection) as captured:
        assert lanes.run_lane(hook.id) == 1

    # take the lane (and a project slot) and claim; record, find nothing more and give both
    # back; take off the waiting list whoever waited for them (no wake-up lost in the release)
    assert len(captured.captured_queries) == 3, [q["sql"][:60] for q in captured]


def test_the_setting_must_be_a_boolean(webhooks_settings):
    from webhooks.checks.settings import check_webhooks_settings

    webhooks_settings(PREPARED_STATEMENTS="off")

    errors = [e for e in check_webhooks_settings() if "PREPARED_STATEMENTS" in e.msg]
    assert [e.id for e in errors] == ["webhooks.E005"]


def test_a_lane_task_sends_no_health_check_before_its_statements(receiver, monkeypatch):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or True)
    connection.health_check_done = False  # as close_old_connections() leaves it between tasks

    assert lanes.run_lane(hook.id) == 1

    assert checks == []
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced(receiver):
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)
    delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT'] or 5432} user={settings['USER']}"
    with psycopg.connect(dsn, dbname="postgres", autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_for(
            lambda: (
                not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            ),
            timeout=10,
            what="the session to end",
        )
    connection.health_check_done = False  # a new task

    # the lane's first statement fails, and runs again on a new connection
    assert lanes.run_lane(hook.id) == 1

    assert connection.connection.info.backend_pid != pid
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (Delivery.Status.SUCCEEDED, 1)
    assert len(receiver.requests) == 1


def test_the_record_finds_its_deliveries_by_primary_key_however_large_the_table():
    # json_to_recordset is planned for 100 rows: without the ids array to lead it, the record's
    # generic plan scanned the whole delivery table at every record (measured: PostgreSQL's CPU
    # per delivery tripled in the bench's later scenarios).
    DeliveryFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO webhooks_event SELECT (jsonb_populate_record(NULL::webhooks_event,"
            " to_jsonb(e) || jsonb_build_object('id', gen_random_uuid(),"
            " 'idempotency_key', NULL))).* FROM webhooks_event e, generate_series(1, 20000)"
        )
        cursor.execute(
            "INSERT INTO webhooks_delivery SELECT (jsonb_populate_record("
            "NULL::webhooks_delivery, to_jsonb(d) || jsonb_build_object('id', gen_random_uuid(),"
            " 'event_id', e.id))).* FROM webhooks_delivery d, webhooks_event e"
            " WHERE e.id <> d.event_id"
        )
        cursor.execute("ANALYZE webhooks_delivery")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        record = statements.sql(statements.RECORD, True)
        cursor.execute(
            "PREPARE record_plan AS " + record.replace("%(records)s", "$1").replace("%(ids)s", "$2")
        )
        cursor.execute("EXPLAIN EXECUTE record_plan('[]', '{}')")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE record_plan")
    assert "Seq Scan on webhooks_delivery" not in plan, plan
    assert "webhooks_delivery_pkey" in plan
    assert Delivery.objects.count() > 20000


def test_a_lane_claiming_often_writes_its_leases_only_when_less_than_a_second_is_left():
    hook, store, token = WebhookFactory(), PgStore(), uuid.uuid4()
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    store.acquire(hook.id, uuid.uuid4(), 1)  # makes the lane rows; takes and keeps the one due
    Lane.objects.filter(webhook=hook).update(expires_at=timezone.now())  # free again
    ProjectSlot.objects.filter(project_id=hook.project_id).update(expires_at=timezone.now())
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    assert len(store.acquire(hook.id, token, 1).deliveries) == 1

    def leases() -> tuple:
        lane = Lane.objects.get(webhook=hook, token=token)
        return lane.expires_at, ProjectSlot.objects.get(token=token).expires_at

    taken = leases()
    DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    claimed = store.claim_next(hook.id, token, 1, keep=True)
    kept = store.claim_next(hook.id, token, 1, keep=True)  # nothing due: lingering
    assert (len(claimed.deliveries), kept.kept) == (1, True)
    assert leases() == taken  # neither claim wrote them

    shortened = tuple(
        moment - timedelta(seconds=app_settings.LEASE_SECONDS - 0.5) for moment in taken
    )
    Lane.objects.filter(token=token).update(expires_at=shortened[0])
    ProjectSlot.objects.filter(token=token).update(expires_at=shortened[1])
    assert store.claim_next(hook.id, token, 1, keep=True).kept
    renewed = leases()
    assert all(
        moment > timezone.now() + timedelta(seconds=app_settings.LEASE_SECONDS - 1)
        for moment in renewed
    ), (renewed, shortened)

    store.claim_next(hook.id, token, 1)  # nothing due, not kept: given back at once
    assert all(moment <= timezone.now() for moment in leases())
