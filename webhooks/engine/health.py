"""A webhook's health from its automatic attempts: the failing clock, disabling, and the
circuit breaker (one lane only after CIRCUIT_BREAKER_FAILURES failures in a row)."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Case, F, Value, When

from webhooks import retry
from webhooks.conf import app_settings
from webhooks.models import Webhook

logger = logging.getLogger(__name__)

# A webhook's health fields after a success.
_HEALTHY = {"failing_since": None, "consecutive_failures": 0, "circuit_open_since": None}


def apply(webhook: Webhook, decisions: Iterable[retry.Decision], now: datetime) -> dict:
    """Clear failing_since after a success, set it at a first failure, disable when due; count
    failures in a row for the circuit breaker, and close it after a success.

    decisions are a batch's, in the order sent; one UPDATE after a failure (two when a
    concurrent lane started the failing clock first), none after a success that changes
    nothing. Return the changes written when the webhook started failing or was
    disabled (failing_since; is_active, disabled_reason, disabled_at), else {}.
    """
    decisions = list(decisions)
    if not decisions:
        return {}
    last = decisions[-1]
    if last.result == retry.SUCCEEDED:
        if not _is_healthy(webhook):
            Webhook.objects.filter(pk=webhook.pk).update(**_HEALTHY, updated_at=now)
            for name, value in _HEALTHY.items():
                setattr(webhook, name, value)
        return {}
    counted = _failure_count(decisions, now)
    changes = {} if webhook.failing_since else {"failing_since": now}
    reason = next((d.disable_reason for d in decisions if d.disable_reason), "")
    reason = reason or _auto_disable_reason(webhook, decisions, now)
    if reason:
        changes |= {"is_active": False, "disabled_reason": reason, "disabled_at": now}
        logger.warning("webhook %s disabled: %s", webhook.pk, reason)
    rows = Webhook.objects.filter(pk=webhook.pk)
    if not changes:
        rows.update(**counted)
        return {}
    # Conditional, so concurrent lanes keep the earliest failing_since and disable once.
    started = rows.filter(is_active=True) if reason else rows.filter(failing_since__isnull=True)
    if not started.update(**changes, **counted, updated_at=now):
        rows.update(**counted)
        return {}
    webhook.failing_since = webhook.failing_since or now
    return changes


def changes_nothing(webhook: Webhook, decisions: Iterable[retry.Decision]) -> bool:
    """Say whether apply() would write nothing for these decisions, or any part of them: all
    succeeded (or there are none) and the webhook is healthy already."""
    if any(decision.result != retry.SUCCEEDED for decision in decisions):
        return False
    return _is_healthy(webhook)


def _is_healthy(webhook: Webhook) -> bool:
    return all(getattr(webhook, name) == value for name, value in _HEALTHY.items())


def _auto_disable_reason(webhook: Webhook, decisions: list[retry.Decision], now: datetime) -> str:
    days = app_settings.DISABLE_AFTER_FAILING_DAYS
    since = webhook.failing_since
    if not any(d.exhausted for d in decisions) or since is None:
        return ""
    if since > now - timedelta(days=days):
        return ""
    return f"no successful delivery for {days} days (failing since {since:%Y-%m-%d %H:%M} UTC)"


def _failure_count(decisions: list[retry.Decision], now: datetime) -> dict:
    """Return the update that counts the failures since the last success, and opens the
    circuit at CIRCUIT_BREAKER_FAILURES of them."""
    trailing = 0
    for decision in reversed(decisions):
        if decision.result == retry.SUCCEEDED:
            break
        trailing += 1
    threshold = app_settings.CIRCUIT_BREAKER_FAILURES
    if trailing < len(decisions):  # a success earlier in the batch closed it: count again
        return {
            "consecutive_failures": trailing,
            "circuit_open_since": now if trailing >= threshold else None,
        }
    # Concurrent lanes add up; the first to reach the threshold opens the circuit.
    return {
        "consecutive_failures": F("consecutive_failures") + trailing,
        "circuit_open_since": Case(
            When(circuit_open_since__isnull=False, then=F("circuit_open_since")),
            When(consecutive_failures__gte=threshold - trailing, then=Value(now)),
            default=None,
        ),
    }
