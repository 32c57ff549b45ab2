"""The data model's guarantees: uniqueness, secrets encrypted at rest, time-sortable ids."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.ids import uuid7
from webhooks.models import Delivery, DeliveryAttempt, Event, Lane, Webhook

pytestmark = pytest.mark.django_db


def test_one_delivery_per_event_and_webhook():
    delivery = DeliveryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=delivery.event, webhook=delivery.webhook)
    assert Delivery.objects.count() == 1


def test_one_event_per_project_and_idempotency_key():
    event = EventFactory(idempotency_key="deploy-42")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(project_id=event.project_id, idempotency_key="deploy-42")
    # The same key in another project, and events without a key, are independent.
    EventFactory(idempotency_key="deploy-42")
    EventFactory(project_id=event.project_id, idempotency_key=None)
    EventFactory(project_id=event.project_id, idempotency_key=None)
    assert Event.objects.count() == 4


def test_secret_round_trips_but_column_never_holds_it():
    webhook = WebhookFactory(secret="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhook WHERE id = %s", [webhook.id])
        (stored,) = cursor.fetchone()
    assert "whsec_" not in stored
    assert "c2VjcmV0" not in stored
    assert Webhook.objects.get(id=webhook.id).secret == webhook.secret


def test_secrets_stay_readable_after_key_rotation(settings):
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["old-key"]
    webhook = WebhookFactory()
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["new-key", "old-key"]
    assert Webhook.objects.get(id=webhook.id).secret == webhook.secret
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["unrelated-key"]
    from webhooks.crypto import DecryptionError

    # Loading never raises (tests/test_undecryptable.py); sending does, saying what to do.
    loaded = Webhook.objects.get(id=webhook.id)
    assert loaded.secret_status == "undecryptable"
    with pytest.raises(DecryptionError, match="WEBHOOKS_ENCRYPTION_KEYS"):
        loaded.signing_secrets(timezone.now())


def test_uuid7_ids_sort_by_creation():
    ids = [uuid7() for _ in range(2000)]
    assert ids == sorted(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids[:10])
    assert len(set(ids)) == len(ids)


def test_history_pages_by_id_in_creation_order():
    first, second = DeliveryFactory(), DeliveryFactory()
    assert list(Delivery.objects.values_list("id", flat=True)) == [second.id, first.id]


@pytest.mark.parametrize("model", [Delivery, DeliveryAttempt, Event, Lane, Webhook])
def test_no_plain_index_is_the_leading_part_of_another(model):
    # Every index of the delivery tables is written at each claim and record: one that another
    # index already covers (by leading with its columns) costs CPU for nothing.
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    # A unique constraint's index is listed as a constraint (index False) but covers too.
    indexes = {
        name: about["columns"] for name, about in found.items() if about["index"] or about["unique"]
    }
    plain = {
        name: columns
        for name, columns in indexes.items()
        if not found[name]["unique"] and not found[name]["primary_key"] and _whole_table(name)
    }
    covered = [
        (name, other)
        for name, columns in plain.items()
        for other, longer in indexes.items()
        if other != name and longer[: len(columns)] == columns and _whole_table(other)
    ]
    assert covered == []


def _whole_table(index: str) -> bool:
    """Say whether the index is not partial (a partial one covers only some rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
        (definition,) = cursor.fetchone()
    return " WHERE " not in definition
