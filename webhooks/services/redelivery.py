"""Send deliveries again: manual retry (one delivery or a selection) and recover-since."""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.engine.wakeups import wake_after_commit
from webhooks.models import Delivery, Webhook

logger = logging.getLogger(__name__)

FINISHED = [Delivery.Status.FAILED, Delivery.Status.SUCCEEDED]


class RedeliveryRefused(Exception):
    """The delivery can't be sent again now; code is 'in_flight' or 'webhook_disabled'."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RecoverWindowInvalid(Exception):
    """The recover window is too long, too large or in the future; field names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def retry_delivery(delivery: Delivery) -> Delivery:
    """Make delivery due now as a manual attempt and enqueue it; return it refreshed.

    A failed or succeeded delivery becomes pending; a pending one is brought forward. Either way
    its next attempt is recorded as manual, and a test ping's delivery stays a test. A manual
    attempt doesn't move the automatic schedule (docs/api.md, "Triggers"). One in flight is
    refused, as is one whose webhook is disabled.
    """
    if not delivery.webhook.is_active:
        raise RedeliveryRefused("webhook_disabled", "The webhook is disabled; enable it first.")
    now = timezone.now()
    trigger = Case(
        When(trigger=Delivery.Trigger.TEST, then=Value(Delivery.Trigger.TEST)),
        default=Value(Delivery.Trigger.MANUAL),
    )
    with transaction.atomic():
        # A conditional UPDATE: a worker claiming the row at the same moment makes it miss.
        moved = Delivery.objects.filter(
            id=delivery.id, status__in=[*FINISHED, Delivery.Status.PENDING]
        ).update(
            status=Delivery.Status.PENDING,
            trigger=trigger,
            next_attempt_at=Now(),
            locked_until=None,
            updated_at=now,
        )
        if not moved:
            raise RedeliveryRefused(
                "in_flight", "An attempt of this delivery is in flight; try again when it ends."
            )
        wake_after_commit([delivery.webhook_id])
    logger.info("delivery %s queued for a manual attempt", delivery.id)
    delivery.refresh_from_db()
    return delivery


def retry_deliveries(delivery_ids: Iterable[uuid.UUID]) -> tuple[int, int]:
    """Retry each delivery that can be; return (queued, refused) counts."""
    queued = refused = 0
    for delivery in Delivery.objects.filter(id__in=list(delivery_ids)).select_related("webhook"):
        try:
            retry_delivery(delivery)
        except RedeliveryRefused:
            refused += 1
        else:
            queued += 1
    return queued, refused


def recover_window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """Return the window [since, until) of a recover, since defaulting to RECOVER_DEFAULT_DAYS ago.

    Raise RecoverWindowInvalid when it reaches back more than RECOVER_MAX_DAYS or starts in
    the future.
    """
    max_days = app_settings.RECOVER_MAX_DAYS
    if since is None:
        since = now - timedelta(days=app_settings.RECOVER_DEFAULT_DAYS)
    if until is not None and until <= since:
        raise RecoverWindowInvalid("until", "Must be after 'since'.")
    if since < now - timedelta(days=max_days):
        raise RecoverWindowInvalid("since", f"Must be within the last {max_days} days.")
    if since > now:
        raise RecoverWindowInvalid("since", "Must not be in the future.")
    return since, until


def recover_failed(
    webhook: Webhook,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Re-queue the webhook's failed deliveries of real events created in [since, until).

    Test pings are not re-sent (a test is sent again by testing again). Each becomes a recover
    attempt due now, which the webhook's lanes send; like a manual one it doesn't move the
    automatic schedule. since defaults to RECOVER_DEFAULT_DAYS ago; the window may reach back
    RECOVER_MAX_DAYS and hold RECOVER_MAX_DELIVERIES failed deliveries; a larger one is refused
    whole, so callers narrow it with until rather than silently losing the rest.
    """
    now = now or timezone.now()
    since, until = recover_window(since, until, now)
    max_count = app_settings.RECOVER_MAX_DELIVERIES
    if not webhook.is_active:
        raise RedeliveryRefused("webhook_disabled", "The webhook is disabled; enable it first.")
    failed = Delivery.objects.filter(
        webhook=webhook, status=Delivery.Status.FAILED, created_at__gte=since
    ).exclude(trigger=Delivery.Trigger.TEST)
    if until:
        failed = failed.filter(created_at__lt=until)
    with transaction.atomic():
        # Lock the rows so a manual retry running now can't move one between count and update.
        ids = list(
            failed.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)[: max_count + 1]
        )
        if len(ids) > max_count:
            raise RecoverWindowInvalid(
                "since",
                f"More than {max_count} failed deliveries in this window; narrow it with "
                "'since' and 'until' and recover it in parts.",
            )
        Delivery.objects.filter(id__in=ids).update(
            status=Delivery.Status.PENDING,
            trigger=Delivery.Trigger.RECOVER,
            next_attempt_at=Now(),
            locked_until=None,
            updated_at=now,
        )
        # One wake-up: the webhook's lanes send them in batches, at most max_in_flight at once.
        wake_after_commit([webhook.id])
    logger.info("recover re-queued %d failed deliveries of webhook %s", len(ids), webhook.id)
    return len(ids)
