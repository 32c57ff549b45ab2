"""Fill the history tables by SQL, fast: events spread over a period, each with one delivery.

Used by the cleanup tests and the cleanup benchmark. Each table gets one template row made by
the ORM (so every column, including ones added later, has a valid value), which one
INSERT ... SELECT over generate_series copies with its own ids, times and statuses.
"""

import uuid
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook

# Live deliveries: one in live_every is pending or delivering (alternately), whatever its age.
# Of the others, one in 20 failed. Three in ten deliveries took a second attempt.
SECOND_ATTEMPT_PER_TEN = 3


def _uuid7(timestamp: str, salt: str) -> str:
    """Return SQL for a time-ordered UUID (version 7 layout) of timestamp, unique per row i."""
    millis = f"lpad(to_hex((extract(epoch from {timestamp}) * 1000)::bigint), 12, '0')"
    noise = f"md5(i::text || %(salt)s || '{salt}')"
    return f"({millis} || '7' || substr({noise}, 1, 3) || '8' || substr({noise}, 4, 15))::uuid"


def _clone(model, template_id, overrides: dict[str, str], where: str = "") -> str:
    """Return INSERT ... SELECT copying model's template row once per i, with overrides."""
    quote = connection.ops.quote_name
    columns = [field.column for field in model._meta.concrete_fields]
    values = ", ".join(overrides.get(column, f"t.{quote(column)}") for column in columns)
    table = quote(model._meta.db_table)
    return (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) SELECT {values} "
        f"FROM {table} t, generate_series(1, %(n)s) i "
        f"WHERE t.id = '{template_id}'{where}"
    )


def fill_history(
    webhook: Webhook,
    events: int,
    days: float,
    end: datetime | None = None,
    live_every: int = 1000,
    body: str = "{}",
) -> None:
    """Insert events spread evenly over days before end, one delivery each, 1.3 attempts each."""
    end = end or timezone.now()
    event = Event.objects.create(project_id=webhook.project_id, type="config.deployed", body=body)
    delivery = Delivery.objects.create(event=event, webhook=webhook, status="succeeded")
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=end,
        duration_ms=42,
        request_url=webhook.url,
        request_headers={"content-type": "application/json", "webhook-signature": "v1,<redacted>"},
        response_status=200,
        response_headers={"content-type": "text/plain", "content-length": "2"},
        response_body="ok",
    )
    at = "(%(end)s::timestamptz - %(span)s * ((i - 0.5) / %(n)s))"
    live = f"i %% {live_every} = 0" if live_every else "false"
    status = (
        f"CASE WHEN {live} THEN (CASE WHEN (i / {max(live_every, 1)}) %% 2 = 0 "
        "THEN 'pending' ELSE 'delivering' END) "
        "WHEN i %% 20 = 1 THEN 'failed' ELSE 'succeeded' END"
    )
    params = {"n": events, "end": end, "span": timedelta(days=days), "salt": uuid.uuid4().hex}
    delivered_at = f"{at} + interval '3 ms'"
    statements = [
        _clone(Event, event.id, {"id": _uuid7(at, "e"), "created_at": at}),
        _clone(
            Delivery,
            delivery.id,
            {
                "id": _uuid7(at, "d"),
                "event_id": _uuid7(at, "e"),
                "status": status,
                "attempt_count": f"1 + (i %% 10 < {SECOND_ATTEMPT_PER_TEN})::int",
                "next_attempt_at": at,
                "created_at": f"{at} + interval '1 ms'",
                "updated_at": delivered_at,
                "delivered_at": delivered_at,
            },
        ),
        _clone(
            DeliveryAttempt,
            attempt.id,
            {"id": _uuid7(at, "a"), "delivery_id": _uuid7(at, "d"), "started_at": at},
        ),
        _clone(
            DeliveryAttempt,
            attempt.id,
            {"id": _uuid7(at, "b"), "delivery_id": _uuid7(at, "d"), "number": "2"},
            where=f" AND i %% 10 < {SECOND_ATTEMPT_PER_TEN}",
        ),
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
    event.delete()  # the templates (the delivery and its attempt go with it)
