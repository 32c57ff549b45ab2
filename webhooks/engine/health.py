"""A webhook's health from its automatic attempts: the failing clock, and disabling."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from webhooks import retry
from webhooks.conf import app_settings
from webhooks.models import Webhook

logger = logging.getLogger(__name__)


def apply(webhook: Webhook, decisions: Iterable[retry.Decision], now: datetime) -> dict:
    """Clear failing_since after a success, set it at a first failure, disable when due.

    decisions are a batch's, in the order sent; at most one UPDATE, and none when the health
    does not change. Return the changes written when the webhook started failing or was
    disabled (failing_since; is_active, disabled_reason, disabled_at), else {}.
    """
    decisions = list(decisions)
    if not decisions:
        return {}
    last = decisions[-1]
    if last.result == retry.SUCCEEDED:
        if webhook.failing_since is not None:
            Webhook.objects.filter(pk=webhook.pk).update(failing_since=None, updated_at=now)
            webhook.failing_since = None
        return {}
    changes = {} if webhook.failing_since else {"failing_since": now}
    reason = next((d.disable_reason for d in decisions if d.disable_reason), "")
    reason = reason or _auto_disable_reason(webhook, decisions, now)
    if reason:
        changes |= {"is_active": False, "disabled_reason": reason, "disabled_at": now}
        logger.warning("webhook %s disabled: %s", webhook.pk, reason)
    if not changes:
        return {}
    # Conditional, so concurrent lanes keep the earliest failing_since and disable once.
    rows = Webhook.objects.filter(pk=webhook.pk)
    rows = rows.filter(is_active=True) if reason else rows.filter(failing_since__isnull=True)
    if not rows.update(**changes, updated_at=now):
        return {}
    webhook.failing_since = webhook.failing_since or now
    return changes


def _auto_disable_reason(webhook: Webhook, decisions: list[retry.Decision], now: datetime) -> str:
    days = app_settings.DISABLE_AFTER_FAILING_DAYS
    since = webhook.failing_since
    if not any(d.exhausted for d in decisions) or since is None:
        return ""
    if since > now - timedelta(days=days):
        return ""
    return f"no successful delivery for {days} days (failing since {since:%Y-%m-%d %H:%M} UTC)"
