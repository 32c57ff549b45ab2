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
from webhooks.engine.store import Batch, Clock, Record, Subscription, log_deleted
from webhooks.models import Delivery, Event, Lane, Webhook

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


class OrmStore:
    """The Store through the ORM (see engine/store.py for the contract)."""

    def acquire(self, webhook_id, token, limit: int) -> Batch | None:
        now = _now()
        with transaction.atomic():
            cap = (
                Webhook.objects.filter(pk=webhook_id)
                .values_list("max_in_flight", flat=True)
                .first()
            ) or app_settings.MAX_IN_FLIGHT_PER_WEBHOOK
            held = set(
                Lane.objects.filter(webhook_id=webhook_id, expires_at__gt=now).values_list(
                    "slot", flat=True
                )
            )
            free = next((slot for slot in range(cap) if slot not in held), None)
            if free is None or not Webhook.objects.filter(pk=webhook_id).exists():
                return None
            lane, _ = Lane.objects.get_or_create(
                webhook_id=webhook_id, slot=free, defaults={"token": token, "expires_at": now}
            )
            Lane.objects.filter(pk=lane.pk).update(
                token=token, expires_at=_lease(now), held_by=liveness.worker_id()
            )
            batch = self._claim(webhook_id, limit, now)
        return self._with_webhook(batch)

    def _claim(self, webhook_id, limit: int, now, **only) -> Batch:
        due = Delivery.objects.filter(
            webhook_id=webhook_id, status=Status.PENDING, next_attempt_at__lte=now, **only
        )
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

    def claim_next(self, webhook_id, token, limit: int) -> Batch:
        now = _now()
        with transaction.atomic():
            lane = Lane.objects.filter(webhook_id=webhook_id, token=token, expires_at__gt=now)
            if not lane.exists():
                return Batch(webhook_id=webhook_id, deliveries=[], clock=Clock(now))
            batch = self._claim(webhook_id, limit, now)
            lane.update(expires_at=_lease(now) if batch.deliveries else now)
        return batch

    def release(self, webhook_id, token) -> None:
        Lane.objects.filter(webhook_id=webhook_id, token=token).update(expires_at=Now())

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

    def subscriptions(self, project_id: uuid.UUID) -> list[Subscription]:
        found = Webhook.objects.filter(project_id=project_id, is_active=True, deleted_at=None)
        return list(found.values_list("id", "event_types", "filters"))

    def insert_event(self, event: Event, webhook_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        now = _now()
        deliveries = [Delivery(event=event, webhook_id=w, next_attempt_at=now) for w in webhook_ids]
        with transaction.atomic():
            event.save(force_insert=True)
            Delivery.objects.bulk_create(deliveries)
            # auto_now_add stamped this host's time: the database's instead, as on PostgreSQL.
            Event.objects.filter(pk=event.pk).update(created_at=now)
            Delivery.objects.filter(event=event).update(created_at=now, updated_at=now)
        event.created_at = now
        return [delivery.id for delivery in deliveries]

    def lock_project(self, project_id: uuid.UUID) -> None:
        """SQLite already serialises writers (the embedded mode's transactions are IMMEDIATE)."""
