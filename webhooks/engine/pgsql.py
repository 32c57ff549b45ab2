"""What the PostgreSQL store's statements share: quoted names, rows as models, the cursor."""

import functools
import logging
import sys

from django.db import InterfaceError, OperationalError, connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import Model
from psycopg import _queries, pq

from webhooks.conf import app_settings

logger = logging.getLogger(__name__)

# psycopg keeps what it makes of a statement's text (its %(name)s turned into $n) only for texts
# of up to 4,096 characters; longer ones are parsed again at every execution. The lane's record
# and claim (RECORD_AND_CLAIM_NEXT, about 6,300) runs once per lingering delivery: its parse cost
# 67 us of CPU each time. The engine has a dozen statements, well within the cache's 128 entries.
# (A private setting of psycopg's: tests/test_engine_sql.py says when a release moves it.)
STATEMENT_CACHE_CHARS = 8192
_queries.MAX_CACHED_STATEMENT_LENGTH = max(
    getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", 0), STATEMENT_CACHE_CHARS
)


def table(model: type[Model]) -> str:
    """Return the model's quoted table name."""
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """Return the model's concrete columns, quoted and qualified by alias, in field order."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    """Return how many columns columns() lists for the model."""
    return len(model._meta.concrete_fields)


def instance(model: type[Model], values) -> Model:
    """Return a model instance from a row of its concrete columns, converted as the ORM does."""
    attnames, conversions = _conversions(model)
    if len(values) != len(attnames):
        raise ValueError(f"{len(values)} values for the {len(attnames)} columns of {model}")
    converted = list(values)
    for position, converters in conversions:  # JSON parsing, secret decryption
        value = converted[position]
        for convert in converters:
            value = convert(value, None, connection)
        converted[position] = value
    return model.from_db(connection.alias, attnames, converted)


@functools.cache
def _conversions(model: type[Model]) -> tuple[list[str], list[tuple[int, list]]]:
    """Return the model's concrete fields' attnames, and the position and converters of each
    field that has any: looked up once, not for every column of every claimed row."""
    fields = model._meta.concrete_fields
    converters = [(n, f.get_db_converters(connection)) for n, f in enumerate(fields)]
    return [f.attname for f in fields], [(n, found) for n, found in converters if found]


class _EngineCursor(ServerBindingCursor):
    """Server-side binding; each statement prepared on its connection unless the setting
    PREPARED_STATEMENTS is off (a PgBouncer pooling transactions without prepared-statement
    support would run the next statement on a connection that doesn't know it).

    Prepared, PostgreSQL plans a statement's text once per connection instead of at every
    execution: planning these CTEs was most of the database's CPU per lone delivery.
    """

    def execute(self, query, params=None, **kwargs):
        prepare = bool(app_settings.PREPARED_STATEMENTS)
        return super().execute(query, params, **kwargs | {"prepare": prepare})


def server_bound_cursor():
    """Return a cursor of Django's connection that sends values apart from the statement.

    Django's cursors bind values into the statement's text in Python (client-side binding);
    a batch's arrays cost more to quote that way than to send apart. Wrapped as
    connection.cursor() wraps its own, so query logging and execute wrappers see these
    statements too. No health check first: run() retries instead.
    """
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django's default: psycopg would prepare nothing at all
        # Only what asks for it (the engine's cursor): Django's own cursors bind client-side
        # and are never prepared either way.
        raw.prepare_threshold = sys.maxsize
    cursor = _EngineCursor(raw)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def _unchecked() -> bool:
    """Say whether Django would health-check the connection first, and mark it checked."""
    due = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
    )
    connection.health_check_done = True
    return due


def run(statement: str, params) -> list:
    """Execute statement with server-side bound params; return its rows (none for a write).

    Django's health check (CONN_HEALTH_CHECKS) sends a SELECT 1 before the first statement of
    each task: a round trip per lone delivery. The engine's statement is the check instead: on
    a connection that died while idle (a database restart, a terminated session) it fails
    without having run, and runs again once on a new connection. Outside a transaction only.
    """
    unchecked = _unchecked()
    try:
        return _execute(statement, params)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        lost = raw is None or raw.closed or raw.broken  # not a timeout or a lock, say
        if not (unchecked and lost) or connection.in_atomic_block:
            raise
        logger.warning("the database connection was lost while idle; connecting again")
        connection.close()
        return _execute(statement, params)


def _execute(statement: str, params) -> list:
    with server_bound_cursor() as cursor:
        cursor.execute(statement, params)
        # Not cursor.description: it builds a column object per column (60 for a lane's claim).
        rows = cursor.pgresult.status == pq.ExecStatus.TUPLES_OK
        return cursor.fetchall() if rows else []
