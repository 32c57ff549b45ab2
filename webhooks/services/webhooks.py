"""Create, change and delete webhooks, rotate their secrets and keys: every write to a Webhook."""

import logging
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.engine.backend import get_store
from webhooks.fields import is_undecryptable
from webhooks.models import Webhook, default_event_types
from webhooks.signing import ED25519_SCHEME, generate_secret, generate_signing_key

logger = logging.getLogger(__name__)

MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 3600
DISABLED_BY_USER = "Disabled by a user."
EDITABLE_FIELDS = (
    "name",
    "description",
    "url",
    "event_types",
    "filters",
    "headers",
    "is_active",
    "max_in_flight",
    "signature_schemes",
)


class WebhookLimitReached(ValidationError):
    """The project already has the most webhooks allowed."""


def live_webhooks(project_id: uuid.UUID):
    """Return the project's webhooks that were not deleted."""
    return Webhook.objects.filter(project_id=project_id, deleted_at__isnull=True)


def create_webhook(
    project_id: uuid.UUID,
    *,
    name: str,
    url: str,
    description: str = "",
    event_types: list[str] | None = None,
    filters: dict | None = None,
    headers: dict | None = None,
    is_active: bool = True,
    max_in_flight: int | None = None,
    signature_schemes: list[str] | None = None,
) -> Webhook:
    """Create a webhook with a new secret and signing key, within the project's webhook limit."""
    now = timezone.now()
    with transaction.atomic():
        # Serialise creations per project so two concurrent requests can't both pass the cap.
        get_store().lock_project(project_id)
        count = live_webhooks(project_id).count()
        limit = app_settings.MAX_WEBHOOKS_PER_PROJECT
        if count >= limit:
            raise WebhookLimitReached(
                f"This project already has {count} webhooks, the most allowed ({limit}). "
                "Delete one before creating another.",
                code="limit_reached",
            )
        webhook = Webhook.objects.create(
            project_id=project_id,
            name=name,
            description=description,
            url=url,
            event_types=event_types or default_event_types(),
            filters=filters or {"applications": [], "environments": []},
            headers=headers or {},
            secret=generate_secret(),
            signature_schemes=signature_schemes or ["v1"],
            signing_key=generate_signing_key(),
            is_active=is_active,
            max_in_flight=max_in_flight,
            disabled_at=None if is_active else now,
            disabled_reason="" if is_active else DISABLED_BY_USER,
        )
    logger.info("created webhook %s in project %s", webhook.id, project_id)
    return webhook


def update_webhook(webhook: Webhook, **changes) -> Webhook:
    """Apply changes to the editable fields; re-enabling clears the disabled state."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    fields = set()
    for name, value in changes.items():
        if name == "is_active" and value != webhook.is_active:
            fields |= _set_active(webhook, value)
        elif getattr(webhook, name) != value:
            setattr(webhook, name, value)
            fields.add(name)
    if ED25519_SCHEME in webhook.signature_schemes and not webhook.signing_key:
        webhook.signing_key = generate_signing_key()  # a webhook made before v1a existed
        fields.add("signing_key")
    if fields:
        webhook.save(update_fields=[*sorted(fields), "updated_at"])
        logger.info("updated webhook %s: %s", webhook.id, ", ".join(sorted(fields)))
    return webhook


def _set_active(webhook: Webhook, active: bool) -> set[str]:
    webhook.is_active = active
    if active:
        # A fresh start: the failing-for-days clock restarts too, and the circuit closes.
        webhook.disabled_at, webhook.disabled_reason, webhook.failing_since = None, "", None
        webhook.consecutive_failures, webhook.circuit_open_since = 0, None
        return {"is_active", "disabled_at", "disabled_reason", "failing_since"} | {
            "consecutive_failures",
            "circuit_open_since",
        }
    webhook.disabled_at, webhook.disabled_reason = timezone.now(), DISABLED_BY_USER
    return {"is_active", "disabled_at", "disabled_reason", "failing_since"}


def delete_webhook(webhook: Webhook) -> bool:
    """Soft-delete webhook (its delivery history stays); return False if already deleted."""
    now = timezone.now()
    deleted = Webhook.objects.filter(id=webhook.id, deleted_at__isnull=True).update(
        deleted_at=now, is_active=False, updated_at=now
    )
    if deleted:
        webhook.deleted_at, webhook.is_active, webhook.updated_at = now, False, now
        logger.info("deleted webhook %s", webhook.id)
    return bool(deleted)


def regenerate_secret(webhook: Webhook, grace_period_seconds: int | None = None) -> Webhook:
    """Give webhook a new secret; the old one keeps signing for the grace period.

    Deliveries carry one signature per valid secret, so receivers can switch at their pace.
    Only one previous secret is kept: regenerating again ends the earlier grace at once.
    This also repairs a webhook whose secret or headers no encryption key can read: such a
    secret gets no grace, and such headers are emptied (set them again with update_webhook).
    """
    grace = _grace_seconds(grace_period_seconds)
    now = timezone.now()
    with transaction.atomic():
        locked = Webhook.objects.select_for_update().get(id=webhook.id)
        if grace and not is_undecryptable(locked.secret):
            locked.previous_secret = locked.secret
            locked.previous_secret_expires_at = now + timedelta(seconds=grace)
        else:
            locked.previous_secret, locked.previous_secret_expires_at = None, None
        locked.secret = generate_secret()
        fields = ["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        if is_undecryptable(locked.headers):
            locked.headers = {}
            fields.append("headers")
            logger.warning("webhook %s: undecryptable custom headers cleared", webhook.id)
        locked.save(update_fields=fields)
    logger.info("regenerated the secret of webhook %s (grace %ss)", webhook.id, grace)
    return locked


def _grace_seconds(asked: int | None) -> int:
    """Return the grace period asked for (the setting when None); raise ValueError if too long."""
    grace = app_settings.SECRET_GRACE_PERIOD_SECONDS if asked is None else asked
    if not 0 <= grace <= MAX_GRACE_PERIOD_SECONDS:
        raise ValueError(f"grace period must be within 0..{MAX_GRACE_PERIOD_SECONDS} seconds")
    return grace


def rotate_signing_key(webhook: Webhook, grace_period_seconds: int | None = None) -> Webhook:
    """Give webhook a new ed25519 signing key; the old one keeps signing for the grace period.

    Like a secret's rotation: v1a deliveries carry a signature by each key while the grace
    lasts, and the public keys document lists both, so receivers can switch at their pace.
    """
    grace = _grace_seconds(grace_period_seconds)
    now = timezone.now()
    with transaction.atomic():
        locked = Webhook.objects.select_for_update().get(id=webhook.id)
        old = locked.signing_key
        if grace and old and not is_undecryptable(old):
            locked.previous_signing_key = old
            locked.previous_signing_key_expires_at = now + timedelta(seconds=grace)
        else:
            locked.previous_signing_key, locked.previous_signing_key_expires_at = None, None
        locked.signing_key = generate_signing_key()
        locked.save(
            update_fields=[
                "signing_key",
                "previous_signing_key",
                "previous_signing_key_expires_at",
                "updated_at",
            ]
        )
    logger.info("rotated the signing key of webhook %s (grace %ss)", webhook.id, grace)
    return locked
