"""The engine's storage contract, and the values that travel through it.

A lane claims its webhook's due deliveries, records their attempts and gives the lane back; an
emit writes an event with a delivery to each of its project's webhooks that it matches. Two
implementations: `pgstore.PgStore` (PostgreSQL, one statement per step) and `ormstore.OrmStore`
(the ORM, for SQLite in the embedded mode); `backend.get_store()` picks one. The contract tests
(tests/test_store_contract.py) run against both. Leases and due times come from the database's
clock.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook
from webhooks.retry import Decision

logger = logging.getLogger(__name__)

# (id, event_types, filters) of one webhook: what matching an event needs, and no secret.
Subscription = tuple[uuid.UUID, list, dict]
# Chooses the webhooks an event goes to from its project's subscriptions (may be called again).
Matcher = Callable[[list[Subscription]], list[uuid.UUID]]


class Clock:
    """The database's time, read once by a claim and carried forward by the monotonic clock."""

    def __init__(self, db_now: datetime) -> None:
        self._base, self.started = db_now, time.monotonic()

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self.started)


@dataclass(frozen=True)
class Batch:
    """Deliveries claimed for one webhook, oldest due first, each with its event loaded."""

    webhook_id: uuid.UUID
    deliveries: list[Delivery]
    clock: Clock
    # The webhook, or why it could not be loaded (an undecryptable secret, say): then every
    # delivery of the batch is recorded as an internal error.
    webhook: Webhook | None = None
    load_error: str = ""
    # claim_next with keep: nothing was due and the lane was kept (it lingers), or another
    # webhook of the project waits for a slot (the lane stops lingering).
    kept: bool = False
    crowded: bool = False


@dataclass(frozen=True)
class State:
    """A claimed delivery's state after its attempt (or after it was given back unsent)."""

    status: str
    next_attempt_at: datetime | None
    trigger: str
    last_status_code: int | None = None
    last_error: str = ""
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class Record:
    """What to write for one claimed delivery: its attempt (None if not sent) and new state."""

    delivery_id: uuid.UUID
    lease: datetime  # the claim's locked_until: the state applies only while it is unchanged
    state: State
    attempt: DeliveryAttempt | None = None
    # The retry decision, when the attempt tells how the endpoint is doing (automatic ones).
    health: Decision | None = field(default=None, compare=False)


class Store(Protocol):
    def acquire(self, webhook_id: uuid.UUID, token: uuid.UUID, limit: int) -> Batch | None:
        """Take a free lane of the webhook and a free slot of its project, and claim its next
        due deliveries, in one go.

        Return None when every lane or every project slot is held; the webhook, if it has due
        work, then waits in the waiting list, and it looks once more after it began to wait.
        """

    def claim_next(
        self, webhook_id: uuid.UUID, token: uuid.UUID, limit: int, keep: bool = False
    ) -> Batch:
        """Claim the lane's next due deliveries, with the webhook as it is now; with none due
        (or the lane no longer allowed: its circuit opened), release the lane and its slot.

        keep: with none due, keep the lane and its slot instead (batch.kept), if the lane is
        still allowed and no other webhook of the project waits for a slot (batch.crowded).
        Kept (or with deliveries claimed), the lane and its slot stay leased at least until a
        second (a tenth of the lease, if less) before the leases of deliveries claimed now end.
        """

    def release(self, webhook_id: uuid.UUID, token: uuid.UUID) -> None:
        """Give the lane and its project slot back."""

    def waiters(self, webhook_id: uuid.UUID) -> list[uuid.UUID]:
        """Take off the waiting list (and return) the webhooks a release of webhook_id's lane
        lets in: itself, and its project's longest waiting other webhook. Call it after the
        release, in a statement of its own, so a webhook that began to wait meanwhile is seen.
        """

    def claim_one(self, delivery_id: uuid.UUID, trigger: str | None) -> Batch | None:
        """Claim one pending, due delivery outside any lane (test pings, direct calls)."""

    def record(self, records: list[Record]) -> set[uuid.UUID]:
        """Insert the attempts, apply the states still ours; return the ids whose state applied.

        An attempt is recorded whoever holds the delivery now, numbered by the count of
        attempts; a delivery that no longer exists (deleted by retention) is skipped.
        """

    def record_and_claim_next(
        self,
        records: list[Record],
        webhook_id: uuid.UUID,
        token: uuid.UUID,
        limit: int,
        keep: bool = False,
    ) -> tuple[set[uuid.UUID], Batch]:
        """record(records), then claim_next(webhook_id, token, limit, keep): both or neither.

        Return what each returns. The claim takes none of the deliveries being recorded, even
        those given back as due now (a later claim does). One statement on PostgreSQL, so a
        lane's batch after the first costs one statement and one commit.
        """

    def insert_event(self, event: Event, match: Matcher) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Insert event and a pending delivery, due now, to each webhook that match chooses
        from the subscriptions (what matching needs of each active, undeleted webhook) of
        event.project_id; return (webhook id, delivery id) of each.

        The subscriptions are those the insert sees: a webhook created, changed or deactivated
        before it counts. One statement on PostgreSQL, the first time a process emits for a
        project and when its webhooks changed since, two. "Now" and the rows' times are the
        database's clock; event.created_at is set to it.

        Atomic by itself, in a transaction of its own or the caller's. A duplicate idempotency
        key raises IntegrityError, and nothing is written.
        """

    def lock_project(self, project_id: uuid.UUID) -> None:
        """Serialise writers of one project's webhooks until the current transaction ends."""


def log_deleted(records: list[Record], found: set[uuid.UUID]) -> None:
    """Log the records whose delivery was deleted (by retention) while it was in flight."""
    for record in records:
        if record.delivery_id not in found:
            logger.warning(
                "delivery %s was deleted during its attempt; the outcome is dropped",
                record.delivery_id,
            )
