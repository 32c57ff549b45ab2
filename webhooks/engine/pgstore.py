"""The engine's store on PostgreSQL: each step of a lane is one statement.

acquire = take a free lane slot and a project slot + claim a batch; claim_next = claim a batch,
or give both back when nothing is due; record = insert a batch's attempts and apply its states;
record_and_claim_next = both of the last two.
The statements are in pgstatements.py, the emit's in pgemit.py; this turns rows into batches.
"""

import dataclasses
import uuid

import orjson
from django.db import connection

from webhooks.conf import app_settings
from webhooks.engine import liveness
from webhooks.engine import pgstatements as statements
from webhooks.engine.pgemit import PgEmit
from webhooks.engine.pgsql import instance, run, width
from webhooks.engine.store import Batch, Clock, Record, log_deleted
from webhooks.models import Delivery, Event, Webhook


def _batch(webhook_id, rows, with_webhook: bool) -> Batch:
    """Return the batch of rows [now, (webhook columns), delivery columns, event columns]."""
    offset = 1 + (width(Webhook) if with_webhook else 0)
    middle = offset + width(Delivery)
    deliveries = []
    for row in rows:
        if row[offset] is None:  # a lane taken with nothing due
            continue
        delivery = instance(Delivery, row[offset:middle])
        delivery.event = instance(Event, row[middle:])
        deliveries.append(delivery)
    webhook, load_error = None, ""
    if with_webhook and deliveries:
        try:
            webhook = instance(Webhook, rows[0][1:offset])
        except Exception as exc:  # an undecryptable secret: each delivery records the error
            load_error = f"the webhook could not be loaded: {type(exc).__name__}: {exc}"
    if webhook_id is None and deliveries:
        webhook_id = deliveries[0].webhook_id
    clock = Clock(rows[0][0]) if rows else None
    return Batch(webhook_id, deliveries, clock, webhook=webhook, load_error=load_error)


class PgStore(PgEmit):
    """The Store on PostgreSQL (see engine/store.py for the contract)."""

    def _run(self, template: str, params, durable: bool | None = None) -> list:
        durable = app_settings.DURABLE_CLAIMS if durable is None else durable
        return run(statements.sql(template, durable), params)

    def acquire(self, webhook_id, token, limit: int) -> Batch | None:
        params = {
            "webhook": webhook_id,
            "token": token,
            "limit": limit,
            "lease": app_settings.LEASE_SECONDS,
            "cap": app_settings.MAX_IN_FLIGHT_PER_WEBHOOK,
            "worker": liveness.worker_id(),
            "project_cap": app_settings.MAX_IN_FLIGHT_PER_PROJECT,
        }
        rows = self._run(statements.ACQUIRE, params)
        if rows and not rows[0][-2] and rows[0][-1]:  # its first wake-up, or a higher cap
            self._run(statements.ADD_SLOTS, params)
            rows = self._run(statements.ACQUIRE, params)
        if rows and not rows[0][-2]:
            # Held: the webhook is on the waiting list now (if it has due work). Look once more,
            # in a statement that sees every release that did not see it waiting.
            rows = self._run(statements.ACQUIRE, params)
        if not rows or not rows[0][-2]:
            return None  # every lane (or project slot) is held, or the webhook is gone
        return _batch(webhook_id, [row[:-2] for row in rows], with_webhook=True)

    def claim_next(self, webhook_id, token, limit: int, keep: bool = False) -> Batch:
        rows = self._run(statements.CLAIM_NEXT, _claim_params(webhook_id, token, limit, keep))
        return _claimed_next(webhook_id, rows)

    def record_and_claim_next(
        self, records: list[Record], webhook_id, token, limit: int, keep: bool = False
    ) -> tuple[set[uuid.UUID], Batch]:
        if not records:
            return set(), self.claim_next(webhook_id, token, limit, keep)
        params = _claim_params(webhook_id, token, limit, keep) | _record_params(records)
        # Durable whatever DURABLE_CLAIMS says: this commit is a record's too.
        rows = self._run(statements.RECORD_AND_CLAIM_NEXT, params, durable=True)
        recorded = [(uuid.UUID(id_), own, count) for id_, own, count in rows[0][-1] or []]
        return _recorded(records, recorded), _claimed_next(webhook_id, [row[:-1] for row in rows])

    def release(self, webhook_id, token) -> None:
        self._run(statements.RELEASE, {"webhook": webhook_id, "token": token})

    def waiters(self, webhook_id) -> list[uuid.UUID]:
        return [row[0] for row in self._run(statements.WAITERS, {"webhook": webhook_id})]

    def claim_one(self, delivery_id, trigger: str | None) -> Batch | None:
        params = {
            "delivery": delivery_id,
            "trigger": trigger,
            "lease": app_settings.LEASE_SECONDS,
            "worker": liveness.worker_id(),
        }
        rows = self._run(statements.CLAIM_ONE, params)
        if not rows:
            return None
        return _batch(None, rows, with_webhook=True)

    def record(self, records: list[Record]) -> set[uuid.UUID]:
        if not records:
            return set()
        return _recorded(records, self._run(statements.RECORD, _record_params(records)))


def _claim_params(webhook_id, token, limit: int, keep: bool) -> dict:
    lease = app_settings.LEASE_SECONDS
    return {
        "webhook": webhook_id,
        "token": token,
        "limit": limit,
        "lease": lease,
        "renew": lease - min(1.0, lease / 10),
        "worker": liveness.worker_id(),
        "cap": app_settings.MAX_IN_FLIGHT_PER_WEBHOOK,
        "keep": keep,
    }


def _claimed_next(webhook_id, rows) -> Batch:
    """Return the batch of CLAIM_NEXT's rows, whose last two columns are kept and crowded."""
    batch = _batch(webhook_id, [row[:-2] for row in rows], with_webhook=True)
    if not rows:
        return batch
    return dataclasses.replace(batch, kept=rows[0][-2], crowded=rows[0][-1])


def _record_params(records: list[Record]) -> dict:
    """Return RECORD's parameter: the records as one JSON array of objects."""
    rows = []
    for record in records:
        state, attempt = record.state, record.attempt
        values = [
            record.delivery_id,
            record.lease,
            state.status,
            state.next_attempt_at,
            state.last_status_code,
            state.last_error,
            state.delivered_at,
            state.trigger,
        ]
        if attempt is not None:
            values += [
                attempt.id,
                attempt.trigger,
                attempt.started_at,
                attempt.duration_ms,
                attempt.request_url,
                attempt.request_headers,
                attempt.response_status,
                attempt.response_headers,
                attempt.response_body,
                attempt.error_kind,
                attempt.error_message,
            ]
        rows.append(dict(zip(statements.RECORD_COLUMNS, values, strict=False)))
    return {"records": orjson.dumps(rows).decode(), "ids": [r.delivery_id for r in records]}


def _recorded(records: list[Record], rows) -> set[uuid.UUID]:
    """Number the attempts from RECORD's rows (id, own, attempt_count); return the ids whose
    state applied."""
    numbers = {row[0]: row[2] for row in rows}
    for record in records:
        if record.attempt is not None and record.delivery_id in numbers:
            record.attempt.number = numbers[record.delivery_id]
            record.attempt._state.adding, record.attempt._state.db = False, connection.alias
    log_deleted(records, set(numbers))
    return {row[0] for row in rows if row[1]}
