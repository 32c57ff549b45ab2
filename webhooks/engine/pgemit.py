"""An emit on PostgreSQL: one statement that reads the project's subscribed webhooks and
writes the event with its deliveries to those the emit's matcher chose.

The matcher chooses from the subscriptions this process saw last for the project (cached, in
_Subscribed); the statement writes only if the project's subscriptions are still exactly those,
and otherwise writes nothing and returns them, to choose again (a second statement, as the
first emit of a project in a process always takes). So a webhook created, changed or
deactivated before an emit's statement counts for it, as when the two were read apart.

The statement's text is built once from the models' metadata, prepared on the connection like
the lane's (pgsql.run), and the rows travel as JSON: the ORM's query building, its model
instances and the quoting of two dozen parameters cost an emit more CPU than everything else
together (docs/performance.md, "Emit validation").
"""

import functools
import hashlib
import os
import threading
import uuid

import orjson
from django.db import connection

from webhooks.engine.pgsql import run, table
from webhooks.engine.store import Matcher, Subscription
from webhooks.ids import uuid7
from webhooks.models import Delivery, Event, Webhook

# Columns of the event and delivery rows written with the database's time (those either has).
_DATABASE_TIMES = ("created_at", "next_attempt_at", "updated_at")
# Chosen from subscriptions this process saw, then from those read the statement before; a
# third time, should the project's webhooks change between every two statements, from those
# read the statement before without the check (as an emit read them before it wrote, apart).
_CHECKS = (True, True, False)


@functools.cache
def _insert_sql() -> str:
    # The subscriptions as one JSON array of [id, event_types, filters], ordered by id: equal
    # (as jsonb) to what the matcher chose from, or the event and its deliveries are not
    # written, and the array comes back instead.
    # Each row is one JSON parameter that PostgreSQL reads into the table's row type, so new
    # columns need no change here. (Values never hold a NUL, which jsonb refuses: the body is
    # JSON text with its control characters escaped, and validation refuses NUL elsewhere.)
    # The times are the database's: a base row holds them, for the keys the JSON leaves out.
    event, delivery, webhook = table(Event), table(Delivery), table(Webhook)
    stamps = ", ".join(f"'{column}', statement_timestamp()" for column in _DATABASE_TIMES)
    return (
        "WITH subscribed AS (SELECT COALESCE(jsonb_agg("  # noqa: S608 (names from metadata)
        "jsonb_build_array(id, event_types, filters) ORDER BY id), '[]') AS rows"
        f" FROM {webhook} WHERE project_id = %(project)s AND is_active AND deleted_at IS NULL),"
        " fits AS (SELECT 1 FROM subscribed"
        " WHERE NOT %(check)s OR rows = %(expected)s::jsonb),"
        f" event AS (INSERT INTO {event}"
        f" SELECT * FROM jsonb_populate_record("
        f"jsonb_populate_record(NULL::{event}, jsonb_build_object({stamps})), %(event)s::jsonb)"
        " WHERE EXISTS (SELECT 1 FROM fits) RETURNING created_at),"
        f" deliveries AS (INSERT INTO {delivery}"
        f" SELECT * FROM jsonb_populate_recordset("
        f"jsonb_populate_record(NULL::{delivery}, jsonb_build_object({stamps})),"
        " %(deliveries)s::jsonb) WHERE EXISTS (SELECT 1 FROM fits))"
        " SELECT (SELECT created_at FROM event),"
        " CASE WHEN EXISTS (SELECT 1 FROM fits) THEN NULL ELSE rows END FROM subscribed"
    )


class _Subscribed:
    """The subscriptions this process saw last, by project, as the JSON text the statement
    returned: only the text is kept, and parsed again at each emit (microseconds).

    Bounded: at most PROJECTS projects of at most CHARACTERS each (16 MiB); a project with more
    is not kept (each of its emits takes two statements), and when full it starts again
    (forgetting a project costs its next emit one statement).
    """

    PROJECTS = 1024
    CHARACTERS = 16384

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.projects: dict[uuid.UUID, str] = {}

    def get(self, project_id: uuid.UUID) -> tuple[str | None, list[Subscription]]:
        text = self.projects.get(project_id)
        return text, _parsed(text) if text else []

    def seen(self, project_id: uuid.UUID, text: str) -> tuple[str, list[Subscription]]:
        """Remember (if small enough) and return the project's subscriptions, read as text."""
        if len(text) <= self.CHARACTERS:
            with self.lock:
                if len(self.projects) >= self.PROJECTS and project_id not in self.projects:
                    self.projects.clear()
                self.projects[project_id] = text
        return text, _parsed(text)


def _parsed(text: str) -> list[Subscription]:
    # Django reads jsonb as text (parsed by orjson here, faster than in the field).
    return [(uuid.UUID(id_), types, filters) for id_, types, filters in orjson.loads(text)]


_subscribed = _Subscribed()


class PgEmit:
    """The emit's part of the Store on PostgreSQL (see engine/store.py for the contract)."""

    def insert_event(self, event: Event, match: Matcher) -> list[tuple[uuid.UUID, uuid.UUID]]:
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
        text, subscriptions = _subscribed.get(event.project_id)
        params = {"project": event.project_id, "event": orjson.dumps(row).decode()}
        for check in _CHECKS:
            sent = [(webhook_id, uuid7()) for webhook_id in match(subscriptions)]
            rows = [shared | {"id": id_, "webhook_id": webhook_id} for webhook_id, id_ in sent]
            params |= {"check": check, "expected": text, "deliveries": orjson.dumps(rows).decode()}
            ((created_at, current),) = run(_insert_sql(), params)
            if current is None:
                event.created_at = created_at
                event._state.adding, event._state.db = False, connection.alias
                return sent
            text, subscriptions = _subscribed.seen(event.project_id, current)
        raise AssertionError("the emit's last statement does not check its subscriptions")

    def lock_project(self, project_id: uuid.UUID) -> None:
        digest = hashlib.sha256(f"webhooks.project:{project_id}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], signed=True)]
            )


def _reset_after_fork() -> None:
    global _subscribed
    _subscribed = _Subscribed()  # its lock may have been held by a thread the fork left behind


os.register_at_fork(after_in_child=_reset_after_fork)
