"""The emit's storage: PostgreSQL's two statements and the ORM path (SQLite) write the same rows."""

import uuid

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from tests.factories import WebhookFactory
from webhooks.engine.ormstore import OrmStore
from webhooks.engine.pgstore import PgStore
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Event
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


def test_both_paths_read_the_same_subscriptions():
    project = uuid.uuid4()
    WebhookFactory(project_id=project, event_types=["*"], filters={"environments": ["prod"]})
    WebhookFactory(project_id=project, is_active=False)

    native = PgStore().subscriptions(project)

    assert native == OrmStore().subscriptions(project)
    assert [(types, filters) for _, types, filters in native] == [
        (["*"], {"environments": ["prod"]})
    ]
