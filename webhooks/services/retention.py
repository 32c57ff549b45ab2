"""Retention cleanup: delete finished history older than the retention, one indexed batch at a time.

Cost per batch stays flat whatever the backlog: both walks move forward along a created_at index
with a keyset cursor, so no batch reads what an earlier one already read or deleted.

- Deliveries: the next finished ones (succeeded or failed) below the cutoff, locked with SKIP
  LOCKED, are deleted with their attempts; then, of the events they pointed to, those left
  without any delivery.
- Events: a second cursor walks the events up to where the deliveries walk has reached and
  deletes those without deliveries (for instance events that matched no webhook).

Pending and delivering deliveries are never deleted, whatever their age, and neither are their
events: they are counted instead, so an operator can decide.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.observability import tracing

FINISHED = (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)
# Every other state is live (a future state too): kept and counted, never deleted.
LIVE = tuple(status for status in Delivery.Status if status not in FINISHED)


@dataclass
class CleanupResult:
    """What a cleanup removed (or, in a dry run, would remove) and the live rows it kept."""

    days: int
    cutoff: str
    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    batches: int = 0
    kept_deliveries: int = 0  # pending or delivering, older than the cutoff
    kept_events: int = 0  # the events of those
    seconds: float = 0.0
    complete: bool = True  # False: stopped by max_seconds; a later run goes on
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return self.deliveries + self.attempts + self.events

    def rate(self) -> float:
        """Return rows deleted per second so far."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = (
            f"webhooks_cleanup: {verb} {self.deliveries} deliveries, {self.attempts} attempts "
            f"and {self.events} events older than {self.days} days (before {self.cutoff})"
        )
        if not self.dry_run:
            text += f" in {self.batches} batches, {self.seconds:.1f} s ({self.rate():,.0f} rows/s)"
        text += (
            f"; kept {self.kept_deliveries} pending or delivering deliveries and their "
            f"{self.kept_events} events"
        )
        if not self.complete:
            text += "; stopped at the time budget, run again to go on"
        return text


BatchCallback = Callable[[CleanupResult, float], None]


MAX_RETENTION_DAYS = 36_500  # a hundred years: past that the cutoff date can't be computed


@tracing.traced("webhooks.cleanup")
def cleanup(
    days: int,
    batch_size: int | None = None,
    dry_run: bool = False,
    max_seconds: float | None = None,
    on_batch: BatchCallback | None = None,
) -> CleanupResult:
    """Delete finished deliveries older than days, their attempts, and events left without any.

    Each batch is one short transaction. After each, on_batch(result, done) is called, done being
    the estimated share (0-1) of the old period covered. With max_seconds, the run stops after
    the batch that reaches the budget (result.complete is then False); a later run goes on.
    """
    batch_size = batch_size or app_settings.CLEANUP_BATCH_SIZE
    if (
        not 1 <= days <= MAX_RETENTION_DAYS
        or batch_size < 1
        or (max_seconds is not None and max_seconds <= 0)
    ):
        raise ValueError("days, batch_size and max_seconds must be positive")
    started = time.monotonic()
    cutoff = timezone.now() - timedelta(days=days)
    result = CleanupResult(days=days, cutoff=cutoff.isoformat(), dry_run=dry_run)
    if dry_run:
        _count_doomed(result, cutoff)
    else:
        walk = _Walk(cutoff)
        while not walk.finished:
            with transaction.atomic():
                walk.step(result, batch_size)
            result.batches += 1
            result.seconds = time.monotonic() - started
            if on_batch is not None:
                on_batch(result, walk.done())
            if max_seconds is not None and result.seconds >= max_seconds and not walk.finished:
                result.complete = False
                break
    kept = Delivery.objects.filter(status__in=LIVE, created_at__lt=cutoff).aggregate(
        deliveries=Count("id"), events=Count("event_id", distinct=True)
    )
    result.kept_deliveries, result.kept_events = kept["deliveries"], kept["events"]
    result.seconds = time.monotonic() - started
    return result


Cursor = tuple[datetime, Any]  # (created_at, id) of the last row a walk looked at


def _after(cursor: Cursor | None) -> Q:
    """Return the rows past cursor in (created_at, id) order; the first term bounds the index."""
    if cursor is None:
        return Q()
    at, pk = cursor
    return Q(created_at__gte=at) & (Q(created_at__gt=at) | Q(id__gt=pk))


def _without_deliveries(events):
    return events.exclude(Exists(Delivery.objects.filter(event=OuterRef("pk"))))


class _Walk:
    """The two cursors of one run: deliveries first, events up to where deliveries have reached."""

    def __init__(self, cutoff: datetime) -> None:
        self.cutoff = cutoff
        self.deliveries_after: Cursor | None = None
        self.events_after: Cursor | None = None
        self.window_end: datetime | None = None  # where the deliveries walk has reached
        self.deliveries_done = False
        self.events_caught_up = True  # the events cursor has reached window_end
        self.oldest = self._oldest()

    @property
    def finished(self) -> bool:
        return self.deliveries_done and self.events_caught_up

    def step(self, result: CleanupResult, batch_size: int) -> None:
        """Run one batch: deliveries when the events have caught up, then events."""
        if self.events_caught_up and not self.deliveries_done:
            self._delete_deliveries(result, batch_size)
        self._delete_events(result, batch_size)

    def done(self) -> float:
        """Return the share of the period from the oldest row to the cutoff walked so far."""
        if self.finished or self.oldest is None:
            return 1.0
        position = self.window_end if self.events_caught_up else self.events_after[0]
        if position is None:
            return 0.0
        span = (self.cutoff - self.oldest).total_seconds()
        return min(1.0, max(0.0, (position - self.oldest).total_seconds() / span)) if span else 1.0

    def _oldest(self) -> datetime | None:
        # Both are the first entry of a created_at index.
        firsts = [
            model.objects.filter(created_at__lt=self.cutoff).aggregate(at=Min("created_at"))["at"]
            for model in (Delivery, Event)
        ]
        return min((at for at in firsts if at is not None), default=None)

    def _delete_deliveries(self, result: CleanupResult, batch_size: int) -> None:
        # Locked, so a concurrent retry can't revive a row between this read and its delete;
        # rows that someone else holds are skipped and left for a later run.
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(_after(self.deliveries_after), status__in=FINISHED, created_at__lt=self.cutoff)
            .order_by("created_at", "id")
            .values_list("id", "event_id", "created_at")[:batch_size]
        )
        if len(rows) < batch_size:
            self.deliveries_done, self.window_end = True, self.cutoff
        else:
            self.deliveries_after = (rows[-1][2], rows[-1][0])
            self.window_end = rows[-1][2]
        if not rows:
            return
        ids = [row[0] for row in rows]
        result.attempts += _delete(DeliveryAttempt.objects.filter(delivery_id__in=ids))
        result.deliveries += _delete(Delivery.objects.filter(id__in=ids))
        events = Event.objects.filter(id__in={row[1] for row in rows}, created_at__lt=self.cutoff)
        result.events += _delete_orphans(events)

    def _delete_events(self, result: CleanupResult, batch_size: int) -> None:
        # Examines at most batch_size events, whether they go or stay, so a run of events that
        # stay (their deliveries are live or recent) can't make one batch long.
        rows = list(
            Event.objects.filter(_after(self.events_after), created_at__lt=self.window_end)
            .order_by("created_at", "id")
            .values_list("created_at", "id")[:batch_size]
        )
        self.events_caught_up = len(rows) < batch_size
        if rows:
            self.events_after = rows[-1]
            events = Event.objects.filter(id__in=[row[1] for row in rows])
            result.events += _delete_orphans(events)


def _delete_orphans(events) -> int:
    """Delete the events of the queryset that no delivery points to; return how many."""
    return _delete(_without_deliveries(events))


def _delete(queryset) -> int:
    """Delete the queryset's rows in one statement; return how many.

    Performance: QuerySet.delete() would first read every row back to cascade and signal, then
    delete in statements of 100 rows, which cost two thirds of a batch. Nothing cascades here
    (attempts go before their deliveries, events only once no delivery points to them) and the
    app connects no delete signals, so the one DELETE that Django itself uses for fast deletes
    does the same work. A new model pointing to Delivery or Event needs its own delete here;
    tests/test_cleanup.py pins the list.
    """
    return queryset._raw_delete(queryset.db)


def _count_doomed(result: CleanupResult, cutoff: datetime) -> None:
    """Fill result with what a cleanup at cutoff would delete."""
    doomed = Q(status__in=FINISHED, created_at__lt=cutoff)
    result.deliveries = Delivery.objects.filter(doomed).count()
    result.attempts = DeliveryAttempt.objects.filter(
        delivery__status__in=FINISHED, delivery__created_at__lt=cutoff
    ).count()
    staying = Delivery.objects.filter(event=OuterRef("pk")).exclude(doomed)
    result.events = Event.objects.filter(created_at__lt=cutoff).exclude(Exists(staying)).count()
