"""An emit's two statements: read the project's subscribed webhooks, then write the event and
its deliveries together.

On PostgreSQL each is one statement whose text is built once from the models' metadata: the
ORM's query building and model instances cost an emit more CPU than everything else together
(docs/performance.md, "Emit validation"). SQLite, the embedded mode, takes the ORM.
"""

import functools
import uuid
from datetime import datetime

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections

from webhooks.ids import uuid7
from webhooks.models import Delivery, Event, Webhook

# (id, event_types, filters) of one webhook: what matching an event needs, and no secret.
Subscription = tuple[uuid.UUID, list, dict]
_PER_ROW = ("id", "webhook_id")  # the delivery columns that differ between rows


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
    event_fields = Event._meta.concrete_fields
    delivery_fields = Delivery._meta.concrete_fields
    selected = [f"u.{f.attname}" if f.attname in _PER_ROW else "%s" for f in delivery_fields]
    return (
        f"WITH event AS (INSERT INTO {_name(Event._meta.db_table)}"  # noqa: S608 (as above)
        f" ({', '.join(_name(f.column) for f in event_fields)})"
        f" VALUES ({', '.join(['%s'] * len(event_fields))}))"
        f" INSERT INTO {_name(Delivery._meta.db_table)}"
        f" ({', '.join(_name(f.column) for f in delivery_fields)})"
        f" SELECT {', '.join(selected)}"
        f" FROM unnest(%s::uuid[], %s::uuid[]) AS u({', '.join(_PER_ROW)})"
    )


def insert(
    event: Event, webhook_ids: list[uuid.UUID], now: datetime, queued_until: datetime
) -> list[uuid.UUID]:
    """Insert event and a pending delivery, due now, to each webhook; return the deliveries' ids.

    A duplicate idempotency key raises IntegrityError, and nothing is written.
    """
    if not _native():
        event.save(force_insert=True)
        deliveries = [
            Delivery(event=event, webhook_id=w, next_attempt_at=now, queued_until=queued_until)
            for w in webhook_ids
        ]
        Delivery.objects.bulk_create(deliveries)
        return [delivery.id for delivery in deliveries]
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy, which looks the connection up per use
    # What save() would send: auto_now stamps, then each field's own conversion.
    params = [f.get_db_prep_save(f.pre_save(event, True), db) for f in Event._meta.concrete_fields]
    # What every delivery shares: these values, else each field's default.
    shared = {
        "event_id": event.id,
        "next_attempt_at": now,
        "queued_until": queued_until,
        "created_at": now,
        "updated_at": now,
    }
    params += [
        f.get_db_prep_save(shared[f.attname] if f.attname in shared else f.get_default(), db)
        for f in Delivery._meta.concrete_fields
        if f.attname not in _PER_ROW
    ]
    ids = [uuid7() for _ in webhook_ids]
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(), [*params, ids, webhook_ids])
    event._state.adding, event._state.db = False, db.alias
    return ids
