"""Deploy warnings: settings that leave secrets or destinations unprotected (W001-W003)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from webhooks.conf import app_settings


@register(Tags.security, deploy=True)
def check_webhooks_deploy(app_configs=None, **kwargs) -> list:
    """Warn about production settings that leave secrets or destinations unprotected."""
    warnings = []
    if not getattr(settings, "WEBHOOKS_ENCRYPTION_KEYS", []):
        warnings.append(
            Warning(
                "WEBHOOKS_ENCRYPTION_KEYS is not set: webhook secrets are encrypted with a key "
                "derived from SECRET_KEY.",
                hint="Set WEBHOOKS_ENCRYPTION_KEYS to one or more long random strings "
                "(comma-separated, newest first).",
                id="webhooks.W001",
            )
        )
    if len(getattr(settings, "WEBHOOKS_AUTH_KEY", "")) < 32:
        warnings.append(
            Warning(
                "WEBHOOKS_AUTH_KEY is empty or shorter than 32 characters.",
                hint="Set it to a long random string; Agenta and the cron jobs send it as "
                "'Authorization: Access <key>'.",
                id="webhooks.W002",
            )
        )
    if app_settings.ALLOW_PRIVATE_DESTINATIONS is True:
        warnings.append(
            Warning(
                "WEBHOOKS['ALLOW_PRIVATE_DESTINATIONS'] is on: webhooks can reach private and "
                "loopback addresses (SSRF).",
                hint="Turn it off in production.",
                id="webhooks.W003",
            )
        )
    return warnings
