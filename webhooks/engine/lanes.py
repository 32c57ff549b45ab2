"""Endpoint lanes: at most max_in_flight senders per webhook, each sending batches in turn.

A worker woken for a webhook takes one of its lanes (a lease in the database) or, when all are
held, drops the wake-up: the holders find the work. A holder claims the webhook's next due
deliveries in one statement, sends them one after another over one kept-alive connection, each
under the hard deadline, records the batch in one statement, and goes on until nothing is due or
its time slice is used up; then it gives the lane (and its thread) back and, with work left,
wakes the webhook again. So whatever one endpoint does costs at most its own lanes' threads.
A lane whose webhook gets work often may linger for its next wake-up first (engine/linger.py).
"""

import functools
import logging
import time
import uuid

from django.db import InterfaceError, OperationalError, connection
from django.db.models import Case, Count, F, IntegerField, Value, When
from django.db.models.functions import Coalesce, Now

from webhooks.conf import app_settings
from webhooks.engine import health, linger, recording, sender, signals, timers, wakeups
from webhooks.engine.backend import get_store
from webhooks.engine.store import Batch, Record, Store
from webhooks.ids import uuid7
from webhooks.models import Delivery, DeliveryAttempt, Lane

logger = logging.getLogger(__name__)

_LEASE_MARGIN_SECONDS = 2.0  # kept free at the end of a lease for the record statement


def run_lane(webhook_id: uuid.UUID | str) -> int:
    """Send the webhook's due deliveries while holding one of its lanes; return how many."""
    store, token = get_store(), uuid7()
    webhook_id = uuid.UUID(str(webhook_id))
    started = time.monotonic()
    slice_ends = started + app_settings.LANE_TIME_SLICE_SECONDS
    # One first: a lone delivery goes out at once, and the time it takes sizes the next batch.
    batch = store.acquire(webhook_id, token, 1)
    if batch is None:
        return 0  # every lane (or project slot) is held: a release wakes the webhook again
    if not batch.deliveries:
        _give_back(store, webhook_id, token)
        return 0
    listening = linger.Listening(webhook_id, token)
    try:
        return _run(store, batch, listening, slice_ends)
    finally:
        listening.stop()


def _run(store: Store, batch: Batch, listening: linger.Listening, slice_ends: float) -> int:
    """Send batch and the ones after it; return how many were sent (see run_lane).

    A batch whose outcomes change nothing about the webhook is recorded in the statement that
    claims the next one, or, when a lingering lane's wait ends with nothing, in the one that
    gives the lane back: a lingering lone delivery is one statement, its outcome written at
    most LANE_LINGER_SECONDS after its answer. Any other batch is recorded at once.
    """
    webhook_id, token, sent, limit, per_delivery = batch.webhook_id, listening.token, 0, 1, 0.0
    held: tuple[Batch, list[Record]] | None = None  # sent, to be recorded with the next claim
    while True:
        if batch.deliveries:
            linger.found_work(webhook_id)
            sending = time.monotonic()
            records = _send_batch(batch, slice_ends)
            per_delivery = (time.monotonic() - sending) / len(records)
            sent += sum(r.attempt is not None for r in records)
            out_of_time = time.monotonic() >= slice_ends
            more_due = len(batch.deliveries) == limit
            if out_of_time or not _foldable(batch, records):
                _finish(store, batch, records)
            else:
                held = (batch, records)
            if out_of_time:
                # Time is up: give the thread back; a fresh wake-up carries on where this stopped.
                listening.stop()
                _give_back(store, webhook_id, token, again=True)
                return sent
            limit = _batch_size(per_delivery, slice_ends)
        else:
            more_due = False  # kept with nothing due: lingering
        # Lingering since the last claim, nothing more may be due until a wake-up is handed over.
        waited = listening.active and not more_due
        if waited and not listening.wait(slice_ends) and held is None:
            _give_back(store, webhook_id, token)  # nothing came
            return sent
        # A wait that ended with nothing stopped the lingering: the held record goes with a
        # claim that gives the lane back (unless something is due after all).
        keep = listening.start(per_delivery) if listening.active or not waited else False
        # With the webhook as it is now: a new URL or secret, or its deactivation, counts.
        batch, held = _claim_next(store, held, webhook_id, token, limit, keep), None
        if batch.crowded:
            listening.give_way()  # another webhook of the project waits for this lane's slot
        if len(batch.deliveries) == limit:
            listening.stop()  # so that this wake-up goes to the queue:
            wakeups.wake([webhook_id])  # more due than this lane takes: another lane may help
        elif not batch.deliveries and not batch.kept:
            listening.stop()
            _wake_waiters(store, webhook_id)  # nothing more was due: claim_next gave the lane back
            return sent


def _foldable(batch: Batch, records: list[Record]) -> bool:
    """Say whether the batch may be recorded with the next claim: its outcomes change nothing
    about the webhook (its health, so its circuit), which that claim reads."""
    decisions = [r.health for r in records if r.health]
    return batch.webhook is not None and health.changes_nothing(batch.webhook, decisions)


def _claim_next(
    store: Store, held: tuple[Batch, list[Record]] | None, webhook_id, token, limit, keep
) -> Batch:
    """Claim the lane's next batch (store.claim_next), recording the held batch, if any, in
    the same statement; a record refused there is recorded as record_batch says, apart."""
    if held is None:
        return store.claim_next(webhook_id, token, limit, keep=keep)
    sent_batch, records = held
    claimed = []

    def write(some: list[Record]) -> set[uuid.UUID]:
        if some is not records:  # record_batch's one by one, after the batch was refused
            return _record(store, some)
        applied, batch = _reconnecting(
            lambda: store.record_and_claim_next(some, webhook_id, token, limit, keep)
        )
        claimed.append(batch)
        return applied

    _finish(store, sent_batch, records, write)
    return claimed[0] if claimed else store.claim_next(webhook_id, token, limit, keep=keep)


def _give_back(store: Store, webhook_id: uuid.UUID, token: uuid.UUID, again=False) -> None:
    """Give the lane back; wake the webhooks waiting for it (and this one again, if asked)."""
    store.release(webhook_id, token)
    _wake_waiters(store, webhook_id, [webhook_id] if again else [])


def _wake_waiters(store: Store, webhook_id: uuid.UUID, also: list | None = None) -> None:
    """Wake the webhooks the lane just given back lets in (after the release: none is missed)."""
    ids = [*(also or []), *store.waiters(webhook_id)]
    if ids:
        wakeups.wake(list(dict.fromkeys(ids)))


def _record(store: Store, records: list[Record]) -> set[uuid.UUID]:
    """Record the batch (see _reconnecting)."""
    return _reconnecting(lambda: store.record(records))


def _reconnecting(write):
    """Return write(); if the connection died meanwhile, once more on a new connection.

    A database restart or failover while requests were in flight would otherwise lose their
    outcomes, and the deliveries would be sent again after their lease.
    """
    try:
        return write()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("database connection lost; recording the outcomes again")
        connection.close()
        return write()


def _batch_size(per_delivery: float, slice_ends: float) -> int:
    """Return how many deliveries the rest of the time slice can send, within BATCH_SIZE."""
    left = slice_ends - time.monotonic()
    return max(1, min(app_settings.BATCH_SIZE, int(left / max(per_delivery, 0.0005))))


def _send_batch(batch: Batch, slice_ends: float) -> list[Record]:
    """Attempt the batch's deliveries in order; give back those the time slice leaves over."""
    records = []
    lease_ends = batch.clock.started + app_settings.LEASE_SECONDS - _LEASE_MARGIN_SECONDS
    for delivery in batch.deliveries:
        out_of_time = time.monotonic() >= slice_ends or (
            time.monotonic() + app_settings.DELIVERY_TIMEOUT_SECONDS > lease_ends
        )
        if records and out_of_time:
            records.append(sender.unsent(delivery))
            continue
        records.append(sender.attempt(delivery, batch.webhook, batch.load_error, batch.clock))
    return records


def deliver(delivery_id: uuid.UUID | str, trigger: str | None = None) -> DeliveryAttempt | None:
    """Make one attempt of a pending, due delivery now, outside any lane; return the attempt.

    For test pings (sent while the caller waits) and direct calls. Return None when nothing
    was claimed (the delivery is not pending and due), so calling it twice is harmless.
    trigger, if given, is recorded as the attempt's trigger instead of the row's.
    """
    store = get_store()
    batch = store.claim_one(delivery_id, trigger)
    if batch is None:
        return None
    record = sender.attempt(batch.deliveries[0], batch.webhook, batch.load_error, batch.clock)
    _finish(store, batch, [record])
    return record.attempt


def _finish(store: Store, batch: Batch, records: list[Record], write=None) -> None:
    """Record the batch (with write, else store.record), apply what it says of the webhook's
    health, and announce it."""
    write = write or functools.partial(_record, store)
    applied, records = recording.record_batch(write, batch, records)
    webhook = batch.webhook
    _set_retry_timers(batch, records, applied)
    changes = {}
    if webhook is not None:
        decisions = [r.health for r in records if r.health and r.delivery_id in applied]
        changes = health.apply(webhook, decisions, batch.clock.now())
    deliveries = {d.pk: d for d in batch.deliveries}
    for record in records:
        if record.attempt is not None and record.delivery_id in applied:
            status = record.state.status
            signals.attempt_recorded.send(
                None,
                delivery=deliveries[record.delivery_id],
                webhook=webhook,
                attempt=record.attempt,
                status=status,
                health=changes,
            )
            changes = {}  # the webhook's changes are told once
            _log(record, status)


def _set_retry_timers(batch: Batch, records: list[Record], applied: set[uuid.UUID]) -> None:
    """Wake the webhook when each retry of the batch is due (not at the next sweep)."""
    now, webhook_id = batch.clock.now(), batch.webhook_id
    delays = [
        (r.state.next_attempt_at - now).total_seconds()
        for r in records
        if r.attempt is not None
        and r.delivery_id in applied
        and r.state.status == Delivery.Status.PENDING
        and r.state.next_attempt_at is not None
    ]
    if delays:
        timers.wake_after(webhook_id, delays)


def _log(record: Record, status: str) -> None:
    attempt = record.attempt
    if status == Delivery.Status.FAILED:
        logger.info(
            "delivery %s failed at attempt %d: %s",
            record.delivery_id,
            attempt.number,
            attempt.error_message,
        )
    else:
        logger.debug("delivery %s attempt %d: %s", record.delivery_id, attempt.number, status)


def saturated_webhooks() -> int:
    """Return how many webhooks have all their lanes taken now (for /metrics)."""
    held = (
        Lane.objects.filter(expires_at__gt=Now())
        .values("webhook")
        .annotate(
            held=Count("id"),
            cap=Case(  # one lane while the circuit breaker is open
                When(webhook__circuit_open_since__isnull=False, then=Value(1)),
                default=Coalesce(
                    "webhook__max_in_flight", Value(app_settings.MAX_IN_FLIGHT_PER_WEBHOOK)
                ),
                output_field=IntegerField(),
            ),
        )
        .filter(held__gte=F("cap"))
    )
    return held.count()
