"""Audit records of secret reads: who was shown which webhook's signing secret, when, from where."""

import ipaddress
import logging

from webhooks.models import SecretRead, Webhook

logger = logging.getLogger(__name__)


def record_secret_read(webhook: Webhook, *, actor: str, address: str | None, via: str) -> None:
    """Record that actor was shown webhook's signing secret through via (api, admin, portal)."""
    if via not in SecretRead.Via.values:
        raise ValueError(f"via must be one of {', '.join(SecretRead.Via.values)}; got {via!r}")
    SecretRead.objects.create(
        webhook=webhook,
        project_id=webhook.project_id,
        actor=actor[:255],
        address=_ip_or_none(address),
        via=via,
    )
    logger.info("secret of webhook %s read by %s via %s from %s", webhook.pk, actor, via, address)


def _ip_or_none(address: str | None) -> str | None:
    # The column holds IP addresses; anything else (a unix socket, a test client) is left out.
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None
