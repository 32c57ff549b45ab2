"""PostgreSQL statements for the hot paths, where the ORM costs a round trip or much CPU.

An attempt is two statements instead of four: claim-and-load and record-and-release each run
as one data-modifying CTE. An emit's fan-out inserts its deliveries with one INSERT ... SELECT
FROM unnest(...) that sends only the columns that differ as arrays. Building the ORM's queries
cost the worker more CPU than the HTTP request itself, and bulk_create cost an emit to 50
webhooks 3 ms (docs/performance.md). SQLite (the embedded mode) can't run these, so callers
keep their ORM path for it.
"""

import functools
from datetime import datetime

from django.db import connection
from django.db.models import Model

from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook

Status = Delivery.Status


def supported() -> bool:
    """Return whether the default database runs data-modifying CTEs (PostgreSQL)."""
    return connection.vendor == "postgresql"


def _name(name: str) -> str:
    return connection.ops.quote_name(name)


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f"{alias}.{_name(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _claim_sql() -> str:
    delivery, event, webhook = (m._meta.db_table for m in (Delivery, Event, Webhook))
    return (
        f"WITH claimed AS ("  # noqa: S608  (names from model metadata; values are parameters)
        f" UPDATE {_name(delivery)} SET status = %s, locked_until = %s, queued_until = NULL,"
        f' attempt_count = attempt_count + 1, "trigger" = COALESCE(%s, "trigger"), updated_at = %s'
        f" WHERE id = %s AND status = %s AND (next_attempt_at <= %s OR next_attempt_at IS NULL)"
        f" RETURNING *)"
        f" SELECT {_columns(Delivery, 'claimed')}, {_columns(Event, 'e')},"
        f" {_columns(Webhook, 'w')} FROM claimed"
        f" JOIN {_name(event)} e ON e.id = claimed.event_id"
        f" JOIN {_name(webhook)} w ON w.id = claimed.webhook_id"
    )


def _instance(model: type[Model], values: list) -> Model:
    """Return a model instance from a row of its concrete columns, converted as the ORM does."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        for convert in field.get_db_converters(connection):  # JSON parsing, secret decryption
            value = convert(value, None, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def claim(delivery_id, now: datetime, lease: datetime, trigger: str | None) -> Delivery | None:
    """Claim the delivery if pending and due, and return it with its event and webhook."""
    params = [Status.DELIVERING, lease, trigger, now, delivery_id, Status.PENDING, now]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    sizes = [len(m._meta.concrete_fields) for m in (Delivery, Event)]
    delivery = _instance(Delivery, row[: sizes[0]])
    delivery.event = _instance(Event, row[sizes[0] : sizes[0] + sizes[1]])
    delivery.webhook = _instance(Webhook, row[sizes[0] + sizes[1] :])
    return delivery


def record_and_release(attempt: DeliveryAttempt, lease: datetime, changes: dict) -> int:
    """Insert attempt and apply changes to its delivery if we still hold the lease.

    Return 1 when the delivery was released, 0 when the lease had expired; the attempt is
    recorded either way.
    """
    fields = attempt._meta.concrete_fields
    values = [f.get_db_prep_save(f.pre_save(attempt, True), connection) for f in fields]
    updates = [Delivery._meta.get_field(name) for name in changes]
    assignments = ", ".join(f"{_name(f.column)} = %s" for f in updates)
    sql = (
        f"WITH attempt AS (INSERT INTO {_name(attempt._meta.db_table)}"  # noqa: S608  (as above)
        f" ({', '.join(_name(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))}))"
        f" UPDATE {_name(Delivery._meta.db_table)} SET {assignments}"
        f" WHERE id = %s AND status = %s AND locked_until = %s"
    )
    params = [
        *values,
        *(f.get_db_prep_save(changes[f.name], connection) for f in updates),
        attempt.delivery_id,
        Status.DELIVERING,
        lease,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        released = cursor.rowcount
    attempt._state.adding, attempt._state.db = False, connection.alias
    return released


def insert_all(objs: list[Model]) -> None:
    """Insert new instances of one model in one statement, as bulk_create would.

    Fields stamped on save (auto_now, auto_now_add) get one timestamp for the whole batch.
    """
    if not objs:
        return
    model = type(objs[0])
    fields = model._meta.concrete_fields
    selected, scalars, arrays, types = [], [], [], []
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            stamp = field.pre_save(objs[0], True)
            for obj in objs:
                setattr(obj, field.attname, stamp)
        values = [getattr(obj, field.attname) for obj in objs]
        if all(value == values[0] for value in values):  # the same in every row: one parameter
            selected.append("%s")
            scalars.append(field.get_db_prep_save(values[0], connection))
        else:
            selected.append(f"u.c{len(arrays)}")
            arrays.append([field.get_db_prep_save(value, connection) for value in values])
            types.append(field.db_type(connection))
    sql = (
        f"INSERT INTO {_name(model._meta.db_table)}"
        f" ({', '.join(_name(f.column) for f in fields)}) SELECT {', '.join(selected)}"
    )
    if arrays:
        unnested = ", ".join(f"%s::{db_type}[]" for db_type in types)
        names = ", ".join(f"c{n}" for n in range(len(arrays)))
        sql += f" FROM unnest({unnested}) AS u({names})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*scalars, *arrays])
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
