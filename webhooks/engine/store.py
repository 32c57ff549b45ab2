"""The engine's storage contract: claim a lane's deliveries, record their attempts, release.

Two implementations: `pgstore.PgStore` (PostgreSQL, one statement per step) and
`ormstore.OrmStore` (the ORM, for SQLite in the embedded mode). tests/test_store_contract.py
runs the same tests against both. Leases and due times come from the database's clock.
"""

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.db import connection

from webhooks.models import Delivery, DeliveryAttempt, Webhook

logger = logging.getLogger(__name__)


class Clock:
    """The database's time, read once by a claim and carried forward by the monotonic clock."""

    def __init__(self, db_now: datetime) -> None:
        self._base, self.started = db_now, time.monotonic()

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self.started)


@dataclass
class Batch:
    """Deliveries claimed for one webhook, oldest due first, each with its event loaded."""

    webhook_id: uuid.UUID
    deliveries: list[Delivery]
    clock: Clock
    # The webhook, or why it could not be loaded (an undecryptable secret, say): then every
    # delivery of the batch is recorded as an internal error.
    webhook: Webhook | None = None
    load_error: str = ""


@dataclass
class Record:
    """What to write for one claimed delivery: its attempt (None if not sent) and new state."""

    delivery_id: uuid.UUID
    lease: datetime  # the claim's locked_until: the state applies only while it is unchanged
    state: dict  # status, next_attempt_at, last_status_code, last_error, delivered_at, trigger
    attempt: DeliveryAttempt | None = None
    health: object = field(default=None, compare=False)  # the retry decision, for health


class Store(Protocol):
    def acquire(self, webhook_id: uuid.UUID, token: uuid.UUID, limit: int) -> Batch | None:
        """Take a free lane of the webhook and claim its next due deliveries in one go.

        Return None when every lane is held (the holders will find the work).
        """

    def claim_next(self, webhook_id: uuid.UUID, token: uuid.UUID, limit: int) -> Batch:
        """Claim the lane's next due deliveries; with none due, release the lane."""

    def release(self, webhook_id: uuid.UUID, token: uuid.UUID) -> None:
        """Give the lane back."""

    def claim_one(self, delivery_id: uuid.UUID, trigger: str | None) -> Batch | None:
        """Claim one pending, due delivery outside any lane (test pings, direct calls)."""

    def record(self, records: list[Record]) -> set[uuid.UUID]:
        """Insert the attempts, apply the states still ours; return the ids whose state applied.

        An attempt is recorded whoever holds the delivery now, numbered by the count of
        attempts; a delivery that no longer exists (deleted by retention) is skipped.
        """


def get_store() -> Store:
    """Return the store for the default database."""
    if connection.vendor == "postgresql":
        from webhooks.engine.pgstore import PgStore

        return PgStore()
    from webhooks.engine.ormstore import OrmStore

    return OrmStore()


def log_deleted(records: list[Record], found: set[uuid.UUID]) -> None:
    """Log the records whose delivery was deleted (by retention) while it was in flight."""
    for record in records:
        if record.delivery_id not in found:
            logger.warning(
                "delivery %s was deleted during its attempt; the outcome is dropped",
                record.delivery_id,
            )
