"""The engine's store through the ORM: for SQLite (the embedded mode), where the PostgreSQL
statements of pgstore can't run. Each step is a short transaction of several statements; SQLite
runs one writer at a time, which stands in for PostgreSQL's row locks here.
"""

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Now

from webhooks.conf import app_settings
from webhooks.engine import liveness
from webhooks.engine.store import Batch, Clock, Matcher, Record, log_deleted
from webhooks.models import Delivery, Event, Lane, LaneWaiter, ProjectSlot, Webhook

Status = Delivery.Status
# With milliseconds: SQLite's CURRENT_TIMESTAMP has whole seconds only.
_NOW_SQL = {
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
    "postgresql": "SELECT statement_timestamp()",
}


def _now() -> datetime:
    """Return the database's time, as every step reads it (one clock for all processes)."""
    with connection.cursor() as cursor:
        cursor.execute(_NOW_SQL.get(connection.vendor, "SELECT CURRENT_TIMESTAMP"))
        (value,) = cursor.fetchone()
    if isinstance(value, str):  # SQLite's text, UTC
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lease(now):
    return now + timedelta(seconds=app_settings.LEASE_SECONDS)


def _free(slots, cap: int, now) -> int | None:
    """Return the lowest of slots 0..cap-1 whose lease is over (or not yet made), or None."""
    held = set(slots.filter(expires_at__gt=now).values_list("slot", flat=True))
    return next((slot for slot in range(cap) if slot not in held), None)


class OrmStore:
    """The Store through the ORM (see engine/store.py for the contract)."""

    def acquire(self, webhook_id, token, limit: int) -> Batch | None:
        # Held: the webhook waits in the list now (if it has due work); look once more, in a
        # transaction that sees every release that did not see it waiting.
        for _ in range(2):
            now = _now()
            with transaction.atomic():
                batch = self._take(webhook_id, token, limit, now)
            if batch is not None:
                return self._with_webhook(batch)
        return None

    def _take(self, webhook_id, token, limit: int, now) -> Batch | None:
        webhook = (
            Webhook.objects.filter(pk=webhook_id)
            .values("project_id", "max_in_flight", "circuit_open_since")
            .first()
        )
        if webhook is None:
            return None
        lanes = webhook["max_in_flight"] or app_settings.MAX_IN_FLIGHT_PER_WEBHOOK
        if webhook["circuit_open_since"] is not None:
            lanes = 1
        project = webhook["project_id"]
        free = _free(Lane.objects.filter(webhook_id=webhook_id), lanes, now)
        free_slot = _free(
            ProjectSlot.objects.filter(project_id=project),
            app_settings.MAX_IN_FLIGHT_PER_PROJECT,
            now,
        )
        if free is None or free_slot is None:
            due = Delivery.objects.filter(
                webhook_id=webhook_id, status=Status.PENDING, next_attempt_at__lte=now
            )
            if due.exists():
                LaneWaiter.objects.get_or_create(
                    webhook_id=webhook_id, defaults={"project_id": project, "since": now}
                )
            return None
        for rows, slot, key, holder in (
            (Lane.objects, free, {"webhook_id": webhook_id}, {"held_by": liveness.worker_id()}),
            (ProjectSlot.objects, free_slot, {"project_id": project}, {}),
        ):
            row, _ = rows.get_or_create(
                **key, slot=slot, defaults={"token": token, "expires_at": now}
            )
            rows.filter(pk=row.pk).update(token=token, expires_at=_lease(now), **holder)
        LaneWaiter.objects.filter(webhook_id=webhook_id).delete()
        return self._claim(webhook_id, limit, now)

    def _claim(self, webhook_id, limit: int, now, skip=(), **only) -> Batch:
        due = Delivery.objects.filter(
            webhook_id=webhook_id, status=Status.PENDING, next_attempt_at__lte=now, **only
        ).exclude(id__in=skip)
        ids = list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])
        lease = _lease(now)
        Delivery.objects.filter(id__in=ids, status=Status.PENDING).update(
            status=Status.DELIVERING,
            locked_until=lease,
            locked_by=liveness.worker_id(),
            updated_at=now,
        )
        claimed = Delivery.objects.filter(id__in=ids, status=Status.DELIVERING, locked_until=lease)
        deliveries = list(claimed.select_related("event").order_by("next_attempt_at"))
        return Batch(webhook_id=webhook_id, deliveries=deliveries, clock=Clock(now))

    def _with_webhook(self, batch: Batch) -> Batch:
        try:
            return dataclasses.replace(batch, webhook=Webhook.objects.get(pk=batch.webhook_id))
        except Exception as exc:  # an undecryptable secret: each delivery records the error
            error = f"the webhook could not be loaded: {type(exc).__name__}: {exc}"
            return dataclasses.replace(batch, load_error=error)

    def claim_next(self, webhook_id, token, limit: int, keep: bool = False, skip=()) -> Batch:
        now = _now()
        with transaction.atomic():
            webhook = Webhook.objects.filter(pk=webhook_id).values(
                "project_id", "max_in_flight", "circuit_open_since"
            )
            lanes = 1
            if webhook and webhook[0]["circuit_open_since"] is None:
                lanes = webhook[0]["max_in_flight"] or app_settings.MAX_IN_FLIGHT_PER_WEBHOOK
            lane = Lane.objects.filter(webhook_id=webhook_id, token=token)
            ours = lane.filter(expires_at__gt=now, slot__lt=lanes).exists()
            batch = Batch(webhook_id=webhook_id, deliveries=[], clock=Clock(now))
            if ours:
                batch = self._claim(webhook_id, limit, now, skip)
            if keep and webhook:
                others = LaneWaiter.objects.filter(project_id=webhook[0]["project_id"])
                crowded = others.exclude(webhook_id=webhook_id).exists()
                kept = ours and not crowded and not batch.deliveries
                batch = dataclasses.replace(batch, kept=kept, crowded=crowded)
            expires_at = _lease(now) if batch.deliveries or batch.kept else now
            lane.update(expires_at=expires_at)
            ProjectSlot.objects.filter(token=token).update(expires_at=expires_at)
        # The webhook as it is now: each batch goes out with its current URL, secret and state.
        return self._with_webhook(batch) if batch.deliveries else batch

    def release(self, webhook_id, token) -> None:
        now = _now()
        with transaction.atomic():
            Lane.objects.filter(webhook_id=webhook_id, token=token).update(expires_at=now)
            ProjectSlot.objects.filter(token=token).update(expires_at=now)

    def waiters(self, webhook_id) -> list[uuid.UUID]:
        with transaction.atomic():
            project = Webhook.objects.filter(pk=webhook_id).values_list("project_id", flat=True)
            others = LaneWaiter.objects.filter(project_id__in=project).exclude(
                webhook_id=webhook_id
            )
            ids = [webhook_id, *others.order_by("since").values_list("webhook_id", flat=True)[:1]]
            found = list(
                LaneWaiter.objects.filter(webhook_id__in=ids).values_list("webhook_id", flat=True)
            )
            LaneWaiter.objects.filter(webhook_id__in=found).delete()
        return found

    def claim_one(self, delivery_id, trigger: str | None) -> Batch | None:
        now = _now()
        changes = {
            "status": Status.DELIVERING,
            "locked_until": _lease(now),
            "locked_by": liveness.worker_id(),
            "updated_at": now,
        }
        if trigger:
            changes["trigger"] = trigger
        with transaction.atomic():
            due = Delivery.objects.filter(pk=delivery_id, status=Status.PENDING).exclude(
                next_attempt_at__gt=now
            )
            if not due.update(**changes):
                return None
            delivery = Delivery.objects.select_related("event").filter(pk=delivery_id).first()
        if delivery is None:
            return None
        batch = Batch(webhook_id=delivery.webhook_id, deliveries=[delivery], clock=Clock(now))
        return self._with_webhook(batch)

    def record(self, records: list[Record]) -> set[uuid.UUID]:
        applied, found = set(), set()
        with transaction.atomic():
            for record in records:
                rows = Delivery.objects.filter(pk=record.delivery_id)
                sent = record.attempt is not None
                counted = {"attempt_count": F("attempt_count") + 1, "lease_expiries": 0}
                if sent and record.attempt.trigger == Delivery.Trigger.AUTO:
                    counted["auto_attempt_count"] = F("auto_attempt_count") + 1
                state = {
                    **dataclasses.asdict(record.state),
                    "locked_until": None,
                    "updated_at": Now(),
                }
                if state["delivered_at"] is None:
                    del state["delivered_at"]
                if not sent:  # given back unsent: no attempt, the last outcome stays
                    state = {k: v for k, v in state.items() if not k.startswith("last_")}
                    counted = {}
                own = rows.filter(locked_until=record.lease).update(**state, **counted)
                if not own and not (rows.update(**counted) if counted else rows.exists()):
                    continue  # deleted meanwhile
                found.add(record.delivery_id)
                if own:
                    applied.add(record.delivery_id)
                if sent:
                    attempt = record.attempt
                    attempt.number = rows.values_list("attempt_count", flat=True).get()
                    attempt.save(force_insert=True)
        log_deleted(records, found)
        return applied

    def record_and_claim_next(
        self, records: list[Record], webhook_id, token, limit: int, keep: bool = False
    ) -> tuple[set[uuid.UUID], Batch]:
        with transaction.atomic():
            applied = self.record(records)
            skip = [record.delivery_id for record in records]
            return applied, self.claim_next(webhook_id, token, limit, keep, skip)

    def insert_event(self, event: Event, match: Matcher) -> list[tuple[uuid.UUID, uuid.UUID]]:
        with transaction.atomic():
            found = Webhook.objects.filter(
                project_id=event.project_id, is_active=True, deleted_at=None
            ).order_by("id")
            webhook_ids = match(list(found.values_list("id", "event_types", "filters")))
            now = _now()
            deliveries = [
                Delivery(event=event, webhook_id=w, next_attempt_at=now) for w in webhook_ids
            ]
            event.save(force_insert=True)
            Delivery.objects.bulk_create(deliveries)
            # auto_now_add stamped this host's time: the database's instead, as on PostgreSQL.
            Event.objects.filter(pk=event.pk).update(created_at=now)
            Delivery.objects.filter(event=event).update(created_at=now, updated_at=now)
        event.created_at = now
        return [(delivery.webhook_id, delivery.id) for delivery in deliveries]

    def lock_project(self, project_id: uuid.UUID) -> None:
        """SQLite already serialises writers (the embedded mode's transactions are IMMEDIATE)."""
