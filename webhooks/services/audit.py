"""Audit records of sensitive reads (a minimal stand-in: the hardening work replaces it)."""

import logging

from webhooks.models import Webhook

logger = logging.getLogger(__name__)


def record_secret_read(webhook: Webhook, *, actor: str, address: str | None, via: str) -> None:
    """Record that actor read webhook's signing secret through via, from address."""
    logger.info(
        "secret of webhook %s in project %s read via %s", webhook.id, webhook.project_id, via
    )
