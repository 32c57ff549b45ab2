"""An emit's two statements: read the project's subscribed webhooks, then write the event and
its deliveries together.

On PostgreSQL each is one statement whose text is built once from the models' metadata, and the
rows travel as JSON: the ORM's query building, its model instances and the quoting of two
dozen parameters cost an emit more CPU than everything else together (docs/performance.md,
"Emit validation"). SQLite, the embedded mode, takes the ORM.
"""

import functools
import uuid
from datetime import datetime

import orjson
from django.db import connection, transaction

from webhooks.ids import uuid7
from webhooks.models import Delivery, Event, Webhook

# (id, event_types, filters) of one webhook: what matching an event needs, and no secret.
Subscription = tuple[uuid.UUID, list, dict]


def _native() -> bool:
    return connection.vendor == "postgresql"


def _name(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _subscriptions_sql() -> str:
    return (
        f"SELECT id, event_types, filters FROM {_name(Webhook._meta.db_table)}"  # noqa: S608 (names from metadata)
        f" WHERE project_id = %s AND is_active AND deleted_at IS NULL"
    )


def subscriptions(project_id: uuid.UUID) -> list[Subscription]:
    """Return what matching needs of each active, undeleted webhook of the project."""
    if not _native():
        found = Webhook.objects.filter(project_id=project_id, is_active=True, deleted_at=None)
        return list(found.values_list("id", "event_types", "filters"))
    with connection.cursor() as cursor:
        cursor.execute(_subscriptions_sql(), [project_id])
        rows = cursor.fetchall()
    # Django reads jsonb as text and parses it in the field; orjson is faster at it.
    return [(id_, orjson.loads(types), orjson.loads(filters)) for id_, types, filters in rows]


@functools.cache
def _insert_sql() -> str:
    event, delivery = (_name(model._meta.db_table) for model in (Event, Delivery))
    # Each row is one JSON parameter that PostgreSQL reads into the table's row type, so new
    # columns need no change here. (Values never hold a NUL, which jsonb refuses: the body is
    # JSON text with its control characters escaped, and validation refuses NUL elsewhere.)
    return (
        f"WITH event AS (INSERT INTO {event}"  # noqa: S608 (names from metadata)
        f" SELECT * FROM jsonb_populate_record(NULL::{event}, %s::jsonb))"
        f" INSERT INTO {delivery}"
        f" SELECT * FROM jsonb_populate_recordset(NULL::{delivery}, %s::jsonb)"
    )


def insert(event: Event, webhook_ids: list[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    """Insert event and a pending delivery, due now, to each webhook; return the deliveries' ids.

    Atomic by itself, in a transaction of its own or the caller's. A duplicate idempotency key
    raises IntegrityError, and nothing is written.
    """
    if not _native():
        deliveries = [Delivery(event=event, webhook_id=w, next_attempt_at=now) for w in webhook_ids]
        with transaction.atomic():
            event.save(force_insert=True)
            Delivery.objects.bulk_create(deliveries)
        return [delivery.id for delivery in deliveries]
    # The values save() would send: auto_now stamps, then the fields' values.
    row = {f.column: f.pre_save(event, True) for f in Event._meta.concrete_fields}
    # What every delivery shares: these values, else each field's default.
    given = {
        "event_id": event.id,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    shared = {
        f.column: given[f.attname] if f.attname in given else f.get_default()
        for f in Delivery._meta.concrete_fields
    }
    ids = [uuid7() for _ in webhook_ids]
    rows = [
        shared | {"id": id_, "webhook_id": webhook_id}
        for id_, webhook_id in zip(ids, webhook_ids, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), [orjson.dumps(row).decode(), orjson.dumps(rows).decode()])
    event._state.adding, event._state.db = False, connection.alias
    return ids
