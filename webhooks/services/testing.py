"""Test pings: send a signed webhook.test event now and report what the endpoint answered."""

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from webhooks.engine.lanes import deliver
from webhooks.events import render_envelope
from webhooks.ids import uuid7
from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook
from webhooks.services.ping_throttle import ping_slot

logger = logging.getLogger(__name__)

TEST_EVENT_TYPE = "webhook.test"
EXCERPT_CHARS = 500  # of the response body, in the API answer and the admin message


@dataclass(frozen=True)
class PingOutcome:
    """What the test ping's single attempt saw."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    succeeded: bool
    status_code: int | None
    duration_ms: int | None
    response_body_excerpt: str
    error_kind: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _envelope(event_id: uuid.UUID, webhook: Webhook) -> str:
    data = {
        "webhook_id": str(webhook.id),
        "message": "A test event from Agenta webhooks: this endpoint is reachable.",
    }
    return render_envelope(event_id, TEST_EVENT_TYPE, webhook.project_id, timezone.now(), data)


def send_test(webhook: Webhook) -> PingOutcome:
    """Record a webhook.test event and delivery (trigger=test), send it now, return the outcome.

    It goes through the delivery engine, so signing, custom headers, the egress policy and the
    deadline are the real ones; a failed test is not retried. It takes no lane: the person who
    asked waits for the answer, at most the delivery deadline. Raise PingRefused (nothing sent,
    nothing recorded) when the webhook's bucket or this web process's share of test pings is
    used up (services/ping_throttle.py): the API, the admin and the portal all come here.
    """
    with ping_slot(webhook):
        return _send(webhook)


def _send(webhook: Webhook) -> PingOutcome:
    event_id = uuid7()
    with transaction.atomic():
        event = Event.objects.create(
            id=event_id,
            project_id=webhook.project_id,
            type=TEST_EVENT_TYPE,
            body=_envelope(event_id, webhook),
        )
        delivery = Delivery.objects.create(
            event=event,
            webhook=webhook,
            trigger=Delivery.Trigger.TEST,
            status=Delivery.Status.PENDING,
            # Not due: lanes and sweeps leave the row to this call, which claims it by id.
            next_attempt_at=None,
        )
    attempt = deliver(delivery.id, trigger=Delivery.Trigger.TEST)
    delivery.refresh_from_db()
    logger.info("test ping %s to webhook %s: %s", delivery.id, webhook.id, delivery.status)
    return _outcome(delivery, attempt)


def _outcome(delivery: Delivery, attempt: DeliveryAttempt | None) -> PingOutcome:
    if attempt is None:
        # Another process claimed the row first (a sweep); its attempt lands in the history.
        return PingOutcome(
            delivery_id=delivery.id,
            event_id=delivery.event_id,
            succeeded=False,
            status_code=None,
            duration_ms=None,
            response_body_excerpt="",
            error_kind="",
            error="The test was queued; see its delivery in the history.",
        )
    return PingOutcome(
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        succeeded=delivery.status == Delivery.Status.SUCCEEDED,
        status_code=attempt.response_status,
        duration_ms=attempt.duration_ms,
        response_body_excerpt=attempt.response_body[:EXCERPT_CHARS],
        error_kind=attempt.error_kind,
        error=attempt.error_message,
    )
