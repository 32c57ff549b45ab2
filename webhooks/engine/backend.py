"""The one place that picks the store for the database: PostgreSQL's statements, or the ORM."""

from django.db import connection

from webhooks.engine.ormstore import OrmStore
from webhooks.engine.pgstore import PgStore
from webhooks.engine.store import Store

_STORES: dict[str, Store] = {"postgresql": PgStore()}
_PORTABLE = OrmStore()


def get_store() -> Store:
    """Return the store for the default database (the ORM's for any but PostgreSQL)."""
    return _STORES.get(connection.vendor, _PORTABLE)
