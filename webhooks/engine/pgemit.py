"""An emit's two statements on PostgreSQL: read the project's subscribed webhooks, then write
the event and its deliveries together.

Each is one statement whose text is built once from the models' metadata, prepared on the
connection like the lane's (pgsql.run), and the rows travel as JSON: the ORM's query building,
its model instances and the quoting of two dozen parameters cost an emit more CPU than
everything else together (docs/performance.md, "Emit validation").
"""

import functools
import hashlib
import uuid

import orjson
from django.db import connection

from webhooks.engine.pgsql import run, table
from webhooks.engine.store import Subscription
from webhooks.ids import uuid7
from webhooks.models import Delivery, Event, Webhook

# Columns of the event and delivery rows written with the database's time (those either has).
_DATABASE_TIMES = ("created_at", "next_attempt_at", "updated_at")


@functools.cache
def _subscriptions_sql() -> str:
    return (
        f"SELECT id, event_types, filters FROM {table(Webhook)}"  # noqa: S608 (names from metadata)
        f" WHERE project_id = %s AND is_active AND deleted_at IS NULL"
    )


@functools.cache
def _insert_sql() -> str:
    # Each row is one JSON parameter that PostgreSQL reads into the table's row type, so new
    # columns need no change here. (Values never hold a NUL, which jsonb refuses: the body is
    # JSON text with its control characters escaped, and validation refuses NUL elsewhere.)
    # The times are the database's: a base row holds them, for the keys the JSON leaves out.
    event, delivery = table(Event), table(Delivery)
    stamps = ", ".join(f"'{column}', statement_timestamp()" for column in _DATABASE_TIMES)
    return (
        f"WITH event AS (INSERT INTO {event}"  # noqa: S608 (names from metadata)
        f" SELECT * FROM jsonb_populate_record("
        f"jsonb_populate_record(NULL::{event}, jsonb_build_object({stamps})), %s::jsonb)"
        f" RETURNING created_at),"
        f" deliveries AS (INSERT INTO {delivery}"
        f" SELECT * FROM jsonb_populate_recordset("
        f"jsonb_populate_record(NULL::{delivery}, jsonb_build_object({stamps})), %s::jsonb))"
        f" SELECT created_at FROM event"
    )


class PgEmit:
    """The emit's part of the Store on PostgreSQL (see engine/store.py for the contract)."""

    def subscriptions(self, project_id: uuid.UUID) -> list[Subscription]:
        rows = run(_subscriptions_sql(), [project_id])
        # Django reads jsonb as text and parses it in the field; orjson is faster at it.
        return [(id_, orjson.loads(types), orjson.loads(filters)) for id_, types, filters in rows]

    def insert_event(self, event: Event, webhook_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        # The values save() would send, but the times, which the statement takes from the
        # database's clock (so a web host whose clock runs ahead delays no first attempt).
        row = {
            f.column: f.pre_save(event, True)
            for f in Event._meta.concrete_fields
            if f.column not in _DATABASE_TIMES
        }
        # What every delivery shares: its event, else each field's default.
        shared = {
            f.column: event.id if f.attname == "event_id" else f.get_default()
            for f in Delivery._meta.concrete_fields
            if f.column not in _DATABASE_TIMES
        }
        ids = [uuid7() for _ in webhook_ids]
        rows = [
            shared | {"id": id_, "webhook_id": webhook_id}
            for id_, webhook_id in zip(ids, webhook_ids, strict=True)
        ]
        ((event.created_at,),) = run(
            _insert_sql(), [orjson.dumps(row).decode(), orjson.dumps(rows).decode()]
        )
        event._state.adding, event._state.db = False, connection.alias
        return ids

    def lock_project(self, project_id: uuid.UUID) -> None:
        digest = hashlib.sha256(f"webhooks.project:{project_id}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], signed=True)]
            )
