"""PostgreSQL statements for emit's fan-out, where the ORM costs much CPU.

An emit's fan-out inserts its deliveries with one INSERT ... SELECT FROM unnest(...) that sends
only the columns that differ as arrays: bulk_create cost an emit to 50 webhooks 3 ms
(docs/performance.md). SQLite (the embedded mode) can't run it, so callers keep their ORM path
for it. The delivery engine's statements live in webhooks/engine/pgstore.py.
"""

from django.db import connection
from django.db.models import Model

from webhooks.models import Delivery

Status = Delivery.Status


def supported() -> bool:
    """Return whether the default database runs data-modifying CTEs (PostgreSQL)."""
    return connection.vendor == "postgresql"


def _name(name: str) -> str:
    return connection.ops.quote_name(name)


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f"{alias}.{_name(f.column)}" for f in model._meta.concrete_fields)


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
