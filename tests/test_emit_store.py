"""The emit's storage: PostgreSQL's statement and the ORM path (SQLite) write the same rows; the
subscriptions a process saw last are checked by that statement."""

import uuid

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import WebhookFactory
from webhooks.engine import pgemit
from webhooks.engine.ormstore import OrmStore
from webhooks.engine.pgstore import PgStore
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Event, Webhook
from webhooks.services import emit, emit_webhook_event

pytestmark = pytest.mark.django_db

VARYING = {"id", "event", "webhook", "created_at", "updated_at", "next_attempt_at"}


def emit_both_ways(monkeypatch) -> tuple[list, list]:
    """Emit the example to the same webhooks natively and through the ORM; return the rows."""
    project = uuid.uuid4()
    hooks = WebhookFactory.create_batch(3, project_id=project, filters={"environments": []})
    WebhookFactory(project_id=project, is_active=False)
    WebhookFactory(project_id=project, deleted_at=timezone.now())
    data = EVENT_TYPES["config.deployed"].example
    native = emit_webhook_event(project, "config.deployed", data, "native")
    monkeypatch.setattr(emit, "get_store", OrmStore)
    orm = emit_webhook_event(project, "config.deployed", data, "orm")
    assert {d.webhook_id for d in native.deliveries.all()} == {h.id for h in hooks}
    return [native, orm], [list(event.deliveries.order_by("webhook_id")) for event in (native, orm)]


def test_both_paths_write_the_same_event_and_deliveries(monkeypatch):
    (native, orm), (native_rows, orm_rows) = emit_both_ways(monkeypatch)

    assert native.delivery_count == orm.delivery_count == 3
    # The bodies differ by the event id only; the hashes of the same content are the same.
    native_event, orm_event = (
        model_to_dict(Event.objects.get(id=event.id), exclude=["id", "idempotency_key", "body"])
        for event in (native, orm)
    )
    assert native_event == orm_event
    assert [model_to_dict(d, exclude=VARYING) for d in native_rows] == [
        model_to_dict(d, exclude=VARYING) for d in orm_rows
    ]
    for delivery in native_rows + orm_rows:
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.created_at and delivery.updated_at
        assert delivery.next_attempt_at <= timezone.now()
        assert (delivery.attempt_count, delivery.lease_expiries) == (0, 0)


def offered(store, project) -> list:
    """Return the subscriptions store's insert_event offers its matcher for an event of project."""
    seen = []
    event = Event(project_id=project, type="config.deployed", body="{}")
    store.insert_event(event, lambda subscriptions: seen.append(subscriptions) or [])
    return seen[-1]


def test_both_paths_offer_the_matcher_the_same_subscriptions():
    project = uuid.uuid4()
    WebhookFactory(project_id=project, event_types=["*"], filters={"environments": ["prod"]})
    WebhookFactory(project_id=project, is_active=False)

    native = offered(PgStore(), project)

    assert native == offered(OrmStore(), project)
    assert [(types, filters) for _, types, filters in native] == [
        (["*"], {"environments": ["prod"]})
    ]


# --- the subscriptions a process saw last, checked by the emit's one statement -----------------

DATA = EVENT_TYPES["config.deployed"].example  # environment "production"


def emitted(project) -> tuple[Event, list[str]]:
    """Emit the example natively; return the event and the statements it sent."""
    with CaptureQueriesContext(connection) as captured:
        event = emit_webhook_event(project, "config.deployed", DATA)
    return event, [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def receivers(event) -> set:
    return set(event.deliveries.values_list("webhook_id", flat=True))


def test_a_project_emitted_to_before_takes_one_statement():
    project = uuid.uuid4()
    hook = WebhookFactory(project_id=project)
    _, first = emitted(project)  # this process has not seen the project yet

    event, sent = emitted(project)

    assert (len(first), len(sent)) == (2, 1)
    assert receivers(event) == {hook.id}
    assert Event.objects.filter(project_id=project).count() == 2  # each written once


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda hook: WebhookFactory(project_id=hook.project_id), id="created"),
        pytest.param(
            lambda hook: Webhook.objects.filter(pk=hook.pk).update(is_active=False),
            id="deactivated",
        ),
        pytest.param(
            lambda hook: Webhook.objects.filter(pk=hook.pk).update(deleted_at=timezone.now()),
            id="deleted",
        ),
        pytest.param(
            lambda hook: Webhook.objects.filter(pk=hook.pk).update(
                filters={"environments": ["staging"]}
            ),
            id="filtered out",
        ),
        pytest.param(
            lambda hook: Webhook.objects.filter(pk=hook.pk).update(event_types=["other.type"]),
            id="unsubscribed",
        ),
    ],
)
def test_a_change_since_the_last_emit_counts_for_the_next(change):
    # Changed without the model's save (no updated_at): the check compares what matching reads.
    project = uuid.uuid4()
    hook = WebhookFactory(project_id=project)
    emitted(project)
    emitted(project)
    change(hook)

    event, sent = emitted(project)

    expected = {
        h.id
        for h in Webhook.objects.filter(project_id=project, is_active=True, deleted_at=None)
        if emit._matches(h.event_types, h.filters, event)
    }
    assert receivers(event) == expected
    assert event.delivery_count == len(expected)
    assert len(sent) == 2  # the check failed, nothing was written; then with what it read
    assert Event.objects.filter(id=event.id).count() == 1


def test_a_project_with_many_webhooks_is_not_kept(monkeypatch):
    monkeypatch.setattr(pgemit._Subscribed, "CHARACTERS", 100)
    project = uuid.uuid4()
    hooks = WebhookFactory.create_batch(3, project_id=project)
    emitted(project)

    event, sent = emitted(project)

    assert len(sent) == 2  # read again each time
    assert receivers(event) == {h.id for h in hooks}


def test_webhooks_changing_between_every_two_statements_still_get_the_event(monkeypatch):
    project = uuid.uuid4()
    WebhookFactory(project_id=project)
    real, made = pgemit.run, []

    def run(statement, params):  # another webhook of the project appears before each statement
        made.append(WebhookFactory(project_id=project))
        return real(statement, params)

    monkeypatch.setattr(pgemit, "run", run)
    event = emit_webhook_event(project, "config.deployed", DATA)

    # the last of three statements writes what the one before read, unchecked
    assert len(made) == 3
    assert receivers(event) == set(
        Webhook.objects.filter(project_id=project)
        .exclude(pk=made[-1].pk)
        .values_list("id", flat=True)
    )
