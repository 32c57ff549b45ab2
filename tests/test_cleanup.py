"""Retention cleanup: exactly the old finished rows go, in indexed batches; live rows stay."""

import io
import re
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from tests.history import fill_history
from tests.test_operations_doc import blocks
from webhooks.checks import check_webhooks_settings
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.services.retention import cleanup

pytestmark = pytest.mark.django_db


def _age(queryset, days: float) -> None:
    queryset.update(created_at=timezone.now() - timedelta(days=days))


def _bulk_history(webhook, count: int, days_old: float) -> list[uuid.UUID]:
    """Insert count events, each with one delivery and one attempt, created days_old ago."""
    events = Event.objects.bulk_create(
        Event(project_id=webhook.project_id, type="config.deployed", body="{}")
        for _ in range(count)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(event=event, webhook=webhook, status=Delivery.Status.SUCCEEDED) for event in events
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=delivery,
            number=1,
            started_at=timezone.now(),
            request_url=webhook.url,
            response_status=200,
        )
        for delivery in deliveries
    )
    _age(Event.objects.filter(id__in=[e.id for e in events]), days_old)
    _age(Delivery.objects.filter(id__in=[d.id for d in deliveries]), days_old)
    return [d.id for d in deliveries]


def test_cleanup_deletes_ten_thousand_old_deliveries_in_batches_and_keeps_newer():
    # given 10,000 deliveries from 40 days ago and a few from 5 days ago
    webhook = WebhookFactory()
    _bulk_history(webhook, 10_000, days_old=40)
    recent = _bulk_history(webhook, 5, days_old=5)
    # an old event that still has a recent delivery, an old event without any, a new one without
    shared = EventFactory(project_id=webhook.project_id)
    _age(Event.objects.filter(id=shared.id), 40)
    kept_by_delivery = DeliveryFactory(webhook=WebhookFactory(), event=shared)
    lonely_old = EventFactory()
    _age(Event.objects.filter(id=lonely_old.id), 40)
    lonely_new = EventFactory()
    out = io.StringIO()

    # when
    call_command("webhooks_cleanup", "--days", "30", "--batch-size", "3000", stdout=out)

    # then only the newer rows are left
    assert set(Delivery.objects.values_list("id", flat=True)) == {*recent, kept_by_delivery.id}
    assert DeliveryAttempt.objects.count() == 5
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == set(recent)
    remaining_events = set(Event.objects.values_list("id", flat=True))
    assert shared.id in remaining_events
    assert lonely_new.id in remaining_events
    assert lonely_old.id not in remaining_events
    assert len(remaining_events) == 5 + 2
    # and one summary line, after batches of at most 3,000 rows
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert (
        "deleted 10000 deliveries, 10000 attempts and 10001 events older than 30 days" in lines[0]
    )
    assert int(re.search(r" in (\d+) batches", lines[0])[1]) >= 4


def test_cleanup_dry_run_counts_and_deletes_nothing():
    webhook = WebhookFactory()
    _bulk_history(webhook, 3, days_old=31)
    _bulk_history(webhook, 2, days_old=1)
    out = io.StringIO()

    call_command("webhooks_cleanup", "--days", "30", "--dry-run", stdout=out)

    assert "would delete 3 deliveries, 3 attempts and 3 events" in out.getvalue()
    assert Delivery.objects.count() == 5
    assert Event.objects.count() == 5


def test_cleanup_with_nothing_to_do_exits_cleanly():
    DeliveryAttemptFactory()
    out = io.StringIO()

    call_command("webhooks_cleanup", "--days", "30", stdout=out)

    assert "deleted 0 deliveries, 0 attempts and 0 events" in out.getvalue()
    assert Delivery.objects.count() == 1


def test_cleanup_defaults_to_the_retention_setting(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "RETENTION_DAYS": 7}
    webhook = WebhookFactory()
    _bulk_history(webhook, 2, days_old=8)
    _bulk_history(webhook, 1, days_old=6)
    out = io.StringIO()

    call_command("webhooks_cleanup", stdout=out)

    assert "deleted 2 deliveries" in out.getvalue()
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "30", "--batch-size", "0"]])
def test_cleanup_refuses_non_positive_arguments(args):
    DeliveryFactory()
    with pytest.raises(CommandError):
        call_command("webhooks_cleanup", *args)
    assert Delivery.objects.count() == 1


# --- live deliveries --------------------------------------------------------------------------


def test_pending_and_delivering_deliveries_and_their_events_are_kept_and_counted(service_client):
    # given a year-old pending delivery and one in flight, each with an attempt, among old history
    webhook = WebhookFactory()
    _bulk_history(webhook, 3, days_old=40)
    live = []
    for status in ("pending", "delivering"):
        attempt = DeliveryAttemptFactory(delivery__webhook=webhook, delivery__status=status)
        live.append(attempt.delivery)
        _age(Delivery.objects.filter(id=attempt.delivery_id), 365)
        _age(Event.objects.filter(id=attempt.delivery.event_id), 365)
    out = io.StringIO()

    # when the command, then the admin API, clean up
    call_command("webhooks_cleanup", "--days", "30", "--dry-run", stdout=out)
    call_command("webhooks_cleanup", "--days", "30", stdout=out)
    answer = service_client.post("/api/admin/webhooks/cleanup?days=30").json()

    # then only the finished rows went; the live ones, their attempts and events are all there
    assert {d.id: d.status for d in Delivery.objects.all()} == {d.id: d.status for d in live}
    assert DeliveryAttempt.objects.count() == 2
    assert set(Event.objects.values_list("id", flat=True)) == {d.event_id for d in live}
    dry, real = out.getvalue().strip().splitlines()
    assert "would delete 3 deliveries, 3 attempts and 3 events" in dry
    assert "deleted 3 deliveries, 3 attempts and 3 events" in real
    for line in (dry, real):
        assert "kept 2 pending or delivering deliveries and their 2 events" in line
    assert (answer["deliveries"], answer["kept_deliveries"], answer["kept_events"]) == (0, 2, 2)
    assert answer["complete"] is True


@pytest.mark.django_db(transaction=True)
def test_a_finished_delivery_locked_by_another_transaction_is_skipped_not_waited_for():
    # given an old failed delivery that another session holds (a retry being recorded)
    webhook = WebhookFactory()
    held, _ = _bulk_history(webhook, 2, days_old=40)
    settings = connection.settings_dict
    dsn = f"host={settings['HOST']} port={settings['PORT']} user={settings['USER']} "
    with psycopg.connect(dsn + f"dbname={settings['NAME']}") as other:
        other.execute("SELECT 1 FROM webhooks_delivery WHERE id = %s FOR UPDATE", [held])

        # when the cleanup runs meanwhile
        result = cleanup(days=30)

        other.rollback()
    # then it deleted what it could without waiting, and leaves the held one for a later run
    assert result.deliveries == 1
    assert list(Delivery.objects.values_list("id", flat=True)) == [held]
    assert cleanup(days=30).deliveries == 1
    assert not Delivery.objects.exists()


# --- progress and time budget -----------------------------------------------------------------


def test_progress_lines_appear_with_rows_rate_and_time_left(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "CLEANUP_PROGRESS_SECONDS": 1e-6}
    fill_history(WebhookFactory(), events=600, days=60, live_every=0)
    out = io.StringIO()

    call_command(
        "webhooks_cleanup", "--days", "30", "--batch-size", "100", "--progress", stdout=out
    )

    *progress, summary = out.getvalue().strip().splitlines()
    assert len(progress) >= 3
    for line in progress:
        assert re.match(
            r"^webhooks_cleanup: [\d,]+ deliveries, [\d,]+ attempts, [\d,]+ events deleted in "
            r"[\d,]+ s \([\d,]+ rows/s\); \d+% of the period done, "
            r"(about [\d,]+ s left|time left \?)$",
            line,
        ), line
    assert "deleted 300 deliveries, 390 attempts and 300 events" in summary


def test_no_progress_lines_by_default_when_stdout_is_not_a_terminal(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "CLEANUP_PROGRESS_SECONDS": 1e-6}
    fill_history(WebhookFactory(), events=200, days=60, live_every=0)
    out = io.StringIO()

    call_command("webhooks_cleanup", "--days", "30", "--batch-size", "20", stdout=out)

    assert len(out.getvalue().strip().splitlines()) == 1


def test_max_seconds_stops_after_the_batch_and_a_later_run_goes_on():
    # given 1,000 old events (one live delivery among them) and 1,000 recent ones
    fill_history(WebhookFactory(), events=2000, days=60, live_every=1000)
    out = io.StringIO()

    # when a run has a budget that its first batch uses up
    call_command(
        "webhooks_cleanup",
        "--days",
        "30",
        "--batch-size",
        "200",
        "--max-seconds",
        "1e-6",
        stdout=out,
    )

    # then it stopped cleanly after that one batch, and said so
    (line,) = out.getvalue().strip().splitlines()
    assert "deleted 200 deliveries" in line
    assert "in 1 batches" in line
    assert line.endswith("stopped at the time budget, run again to go on")
    assert Delivery.objects.count() == 1800
    # and a later run deletes the rest, keeping the live delivery
    result = cleanup(days=30, batch_size=200)
    assert (result.deliveries, result.events, result.complete) == (799, 799, True)
    assert (result.kept_deliveries, result.kept_events) == (1, 1)
    assert Delivery.objects.count() == 1001
    assert Event.objects.count() == 1001


def test_the_admin_api_takes_a_time_budget(service_client):
    fill_history(WebhookFactory(), events=40, days=60, live_every=0)

    answer = service_client.post(
        "/api/admin/webhooks/cleanup?days=30&batch_size=5&max_seconds=0.001"
    ).json()

    assert (answer["deliveries"], answer["batches"], answer["complete"]) == (5, 1, False)
    assert service_client.post("/api/admin/webhooks/cleanup?max_seconds=0").status_code == 400


# --- flat cost per batch ----------------------------------------------------------------------


def test_the_cleanup_deletes_every_table_that_points_to_a_delivery_or_an_event():
    # The cleanup deletes with one statement per table, without Django's cascade: a new model
    # pointing to Delivery or Event must get its own delete in services/retention.py (else the
    # foreign key fails every batch's commit).
    pointing = {
        model: {relation.related_model for relation in model._meta.related_objects}
        for model in (Delivery, Event)
    }

    assert pointing == {Delivery: {DeliveryAttempt}, Event: {Delivery}}


def _seq_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan":
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


def test_every_cleanup_query_on_a_filled_table_is_driven_by_an_index():
    # given 60 days of history, with orphan events, analysed like autovacuum would
    webhook = WebhookFactory()
    fill_history(webhook, events=40_000, days=60)
    Event.objects.bulk_create(
        Event(project_id=webhook.project_id, type="config.deployed", body="{}") for _ in range(500)
    )
    _age(Event.objects.filter(deliveries__isnull=True), 45)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webhooks_event, webhooks_delivery, webhooks_deliveryattempt")
    plans = []

    def explain(execute, sql, params, many, context):
        if not many and sql.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
            raw = context["cursor"].cursor
            raw.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plans.append((sql, raw.fetchone()[0][0]["Plan"]))
        return execute(sql, params, many, context)

    # when the whole cleanup runs, every statement explained just before it runs
    with connection.execute_wrapper(explain):
        result = cleanup(days=30, batch_size=200)

    # then it deleted the old half and no statement scans a history table sequentially
    assert (result.deliveries, result.events) == (19_980, 20_480)
    assert result.batches >= 100
    scans = [(sql[:200], table) for sql, plan in plans for table in _seq_scans(plan)]
    assert scans == []
    assert len(plans) > 100 * 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"CLEANUP_BATCH_SIZE": 0}, "webhooks.E040"),
        ({"CLEANUP_BATCH_SIZE": 200_000}, "webhooks.E040"),
        ({"CLEANUP_BATCH_SIZE": "5000"}, "webhooks.E040"),
        ({"CLEANUP_PROGRESS_SECONDS": 0}, "webhooks.E041"),
        ({"CLEANUP_PROGRESS_SECONDS": "5"}, "webhooks.E041"),
    ],
)
def test_bad_cleanup_settings_are_refused_at_startup(settings, value, expected):
    settings.WEBHOOKS = value

    assert [(e.id, bool(e.hint)) for e in check_webhooks_settings()] == [(expected, True)]


# --- the operations page's queries ------------------------------------------------------------


def _documented_query(name: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(blocks()[name])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_the_documented_queries_list_old_live_deliveries_and_table_sizes():
    webhook = WebhookFactory()
    _bulk_history(webhook, 2, days_old=40)
    stuck = DeliveryFactory(webhook=webhook, status="pending")
    _age(Delivery.objects.filter(id=stuck.id), 40)
    DeliveryFactory(webhook=webhook, status="delivering")  # live, but recent

    assert [(row["id"], row["status"]) for row in _documented_query("kept-live")] == [
        (stuck.id, "pending")
    ]
    sizes = _documented_query("table-sizes")
    assert [row["table"] for row in sizes] == [
        "webhooks_delivery",
        "webhooks_deliveryattempt",
        "webhooks_event",
    ]
    assert all(row["size"].endswith(("kB", "MB", "bytes")) for row in sizes)
