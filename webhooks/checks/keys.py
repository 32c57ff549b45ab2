"""Stored secrets that the configured encryption keys can't decrypt: E050/W050, also at startup."""

import logging

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register, run_checks
from django.db import DatabaseError, connection

from webhooks.checks.metrics import METRICS_TOPOLOGY_TAG

logger = logging.getLogger(__name__)

ENCRYPTION_KEYS_TAG = "webhooks_encryption_keys"  # run_startup_checks runs these


@register(Tags.database, Tags.security, ENCRYPTION_KEYS_TAG)
def check_stored_secrets_decrypt(app_configs=None, databases=None, **kwargs) -> list:
    """Say when stored secrets can't be decrypted with WEBHOOKS_ENCRYPTION_KEYS.

    A database check: it runs with `manage.py check --database default` (the containers'
    health check), `migrate`, and at web and worker startup (run_startup_checks).
    """
    if not databases or "default" not in databases:
        return []
    from webhooks.services.key_rotation import undecryptable_webhooks  # models: not at import

    try:
        total, broken, examples = undecryptable_webhooks()
    except DatabaseError:
        return []  # not migrated yet, or unreachable: migrate and /readyz say so
    if not broken:
        return []
    configured = "is not set" if not getattr(settings, "WEBHOOKS_ENCRYPTION_KEYS", []) else "is set"
    msg = (
        f"{broken} of {total} webhooks hold a secret, custom headers or URL that no key in "
        f"WEBHOOKS_ENCRYPTION_KEYS decrypts (it {configured}); their deliveries fail "
        f"(e.g. {', '.join(str(pk) for pk in examples)})."
    )
    hint = (
        "Start the process with the WEBHOOKS_ENCRYPTION_KEYS these were stored with (newest "
        "first, comma-separated), then run manage.py webhooks_rotate_encryption_keys; or "
        "regenerate those webhooks' secrets (POST .../regenerate-secret)."
    )
    if broken == total:  # every one: the keys are wrong, not a few rows
        return [Error(msg, hint=hint, obj="settings.WEBHOOKS_ENCRYPTION_KEYS", id="webhooks.E050")]
    return [Warning(msg, hint=hint, obj="settings.WEBHOOKS_ENCRYPTION_KEYS", id="webhooks.W050")]


def run_startup_checks() -> None:
    """Log the encryption-key and metrics checks (gunicorn and taskiq skip system checks)."""
    try:
        tags = [ENCRYPTION_KEYS_TAG, METRICS_TOPOLOGY_TAG]
        messages = run_checks(tags=tags, include_deployment_checks=True, databases=["default"])
    except Exception as exc:  # a diagnostic must never stop a process from starting
        logger.warning("could not check the stored secrets at startup: %s", exc)
        return
    finally:
        if not connection.in_atomic_block:
            connection.close()  # opened in the main thread: don't keep it for the process's life
    for message in messages:
        logger.log(
            logging.ERROR if message.is_serious() else logging.WARNING,
            "%s: %s HINT: %s",
            message.id,
            message.msg,
            message.hint,
        )
