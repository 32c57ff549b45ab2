"""Make one attempt of a claimed delivery: sign, send under the deadline, decide what follows.

Whatever goes wrong here becomes the attempt's outcome (an `internal_error` for anything that is
not an HTTP outcome): a claimed delivery always ends in a recorded attempt.
"""

import logging
from datetime import datetime
from http import HTTPStatus

from webhooks import crypto, resolver, retry, transport, wire
from webhooks.conf import app_settings
from webhooks.engine import signals
from webhooks.engine.store import Clock, Record, State
from webhooks.models import Delivery, DeliveryAttempt, Webhook
from webhooks.outcomes import MAX_ERROR_MESSAGE_CHARS, DeliveryOutcome, ErrorKind, storable

logger = logging.getLogger(__name__)

Status, Trigger = Delivery.Status, Delivery.Trigger
_NOT_THE_ENDPOINT = (ErrorKind.WEBHOOK_DISABLED, ErrorKind.INTERNAL_ERROR)
_STATUS_OF = {
    retry.SUCCEEDED: Status.SUCCEEDED,
    retry.RETRY: Status.PENDING,
    retry.FAILED: Status.FAILED,
}


def attempt(delivery: Delivery, webhook: Webhook | None, load_error: str, clock: Clock) -> Record:
    """Send delivery once (or record why it could not be) and return what to write."""
    started = clock.now()
    sent_headers: dict[str, str] = {}
    signals.attempt_started.send(None, delivery=delivery, webhook=webhook)
    if webhook is None:  # known already: no traceback per delivery
        logger.warning("delivery %s not sent: %s", delivery.pk, load_error)
        outcome = _internal_error(load_error, started, clock)
    else:
        delivery.webhook = webhook  # what the reports of this attempt tell about
        try:
            outcome, sent_headers = _send(delivery, webhook, started)
        except crypto.DecryptionError as exc:  # a key was dropped: known, no traceback needed
            logger.warning("delivery %s not sent: %s", delivery.pk, exc)
            outcome = _internal_error(str(exc), started, clock)
        except Exception as exc:
            logger.exception("delivery %s: internal error during its attempt", delivery.pk)
            outcome = _internal_error(f"{type(exc).__name__}: {exc}", started, clock)
    try:
        record = _record(delivery, webhook, outcome, sent_headers, started, clock.now())
    except Exception as exc:  # a bug in what follows an answer: the answer still is an attempt
        logger.exception("delivery %s: its outcome could not be decided", delivery.pk)
        outcome = _internal_error(f"{type(exc).__name__}: {exc}", started, clock)
        record = _record(delivery, None, outcome, {}, started, clock.now())
    signals.attempt_finished.send(None, delivery=delivery, webhook=webhook, record=record)
    return record


def unrecordable(delivery: Delivery, record: Record, reason: str, clock: Clock) -> Record:
    """Return the internal_error attempt that stands for record, which the store refused."""
    started, code = record.attempt.started_at, record.attempt.response_status
    answer = f" (the endpoint answered HTTP {code})" if code is not None else ""
    message = f"the attempt could not be recorded{answer}: {reason}"
    return _record(
        delivery, None, _internal_error(message, started, clock), {}, started, clock.now()
    )


def _internal_error(message: str, started: datetime, clock: Clock) -> DeliveryOutcome:
    return DeliveryOutcome(
        duration_ms=int((clock.now() - started).total_seconds() * 1000),
        error_kind=ErrorKind.INTERNAL_ERROR,
        error_message=storable(message)[:MAX_ERROR_MESSAGE_CHARS],
    )


def unsent(delivery: Delivery) -> Record:
    """Return the record that gives a claimed delivery back, unsent and due as before."""
    return Record(
        delivery_id=delivery.pk,
        lease=delivery.locked_until,
        state=State(Status.PENDING, delivery.next_attempt_at, delivery.trigger),
    )


def _send(
    delivery: Delivery, webhook: Webhook, now: datetime
) -> tuple[DeliveryOutcome, dict[str, str]]:
    # A test ping may check a disabled endpoint before it is enabled again; nothing else may.
    if webhook.deleted_at or (not webhook.is_active and delivery.trigger != Trigger.TEST):
        reason = (
            "the webhook was deleted"
            if webhook.deleted_at
            else f"the webhook is disabled ({webhook.disabled_reason or 'by a user'})"
        )
        outcome = DeliveryOutcome(error_kind=ErrorKind.WEBHOOK_DISABLED, error_message=reason)
        return outcome, {}
    event = delivery.event
    secrets, signing_keys = webhook.signing_material(now)
    headers = wire.request_headers(
        delivery_id=str(delivery.id),
        event_type=event.type,
        body=event.body,
        secrets=secrets,
        custom=webhook.headers,
        signing_keys=signing_keys,
    )
    token = resolver.owner.set(str(webhook.pk))  # its name lookups count against it
    try:
        outcome = transport.send(webhook.url, headers, event.body.encode())
    finally:
        resolver.owner.reset(token)
    return outcome, wire.redacted(headers)


def _record(
    delivery: Delivery,
    webhook: Webhook | None,
    outcome: DeliveryOutcome,
    sent_headers: dict[str, str],
    started: datetime,
    now: datetime,
) -> Record:
    trigger = _attempt_trigger(delivery)
    automatic = trigger == Trigger.AUTO
    decision = retry.decide(
        status_code=outcome.status_code,
        error_kind=outcome.error_kind,
        retry_after=outcome.headers.get("retry-after"),
        # Only automatic attempts move the schedule: after a failed manual or recover one the
        # delivery waits as it did after its last automatic attempt (or fails if that was the
        # schedule's last). A test ping is never retried.
        attempt_number=delivery.auto_attempt_count + 1
        if automatic
        else max(delivery.auto_attempt_count, 1),
        automatic=delivery.trigger != Trigger.TEST,
        now=now,
        schedule=app_settings.RETRY_SCHEDULE_SECONDS,
        jitter_ratio=app_settings.RETRY_JITTER_RATIO,
    )
    succeeded = decision.result == retry.SUCCEEDED
    error_kind = outcome.error_kind or ("" if succeeded else ErrorKind.HTTP_STATUS)
    # The HTTP client quotes the request's path and query, where receivers keep tokens.
    error_message = wire.redacted_error(outcome.error_message) or (
        "" if succeeded else _status_text(outcome)
    )
    attempt = DeliveryAttempt(
        delivery_id=delivery.pk,
        number=delivery.attempt_count + 1,  # the store numbers it by the recorded count
        trigger=trigger,
        started_at=started,
        duration_ms=outcome.duration_ms,
        request_url=wire.redacted_url(webhook.url) if webhook is not None else "",
        request_headers=sent_headers,
        response_status=outcome.status_code,
        response_headers=outcome.headers,
        response_body=outcome.body,
        error_kind=error_kind,
        error_message=error_message,
    )
    state = State(
        status=_STATUS_OF[decision.result],
        next_attempt_at=decision.next_attempt_at,
        # Pending again: the schedule starts the next attempt. Finished: what started this one.
        trigger=Trigger.AUTO if decision.result == retry.RETRY else delivery.trigger,
        last_status_code=outcome.status_code,
        last_error=error_message,
        delivered_at=now if succeeded else None,
    )
    # Only automatic attempts tell how the endpoint is doing: a test ping or a manual retry
    # never disables it or starts its failing clock, and our own errors are not its fault.
    counts = automatic and outcome.error_kind not in _NOT_THE_ENDPOINT
    health = decision if counts else None
    return Record(
        delivery_id=delivery.pk,
        lease=delivery.locked_until,
        state=state,
        attempt=attempt,
        health=health,
    )


def _attempt_trigger(delivery: Delivery) -> str:
    """Return what starts delivery's attempt now: its trigger, but a test sent again is manual.

    A test ping's first attempt is the ping; it is never retried automatically, so any later
    attempt was asked for by a person (the delivery itself stays a test).
    """
    if delivery.trigger == Trigger.TEST and delivery.attempt_count:
        return Trigger.MANUAL
    return delivery.trigger


def _status_text(outcome: DeliveryOutcome) -> str:
    code = outcome.status_code
    try:
        text = f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        text = f"HTTP {code}"
    if 300 <= code < 400:
        text += " (redirects are not followed)"
    return text
