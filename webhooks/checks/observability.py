"""Operator events and /metrics settings: E060-E064."""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, register

from webhooks import signing
from webhooks.checks.common import _error
from webhooks.conf import DEFAULTS, app_settings

METRICS_INTEGERS = [
    "METRICS_COUNT_LIMIT",
    "METRICS_FAILING_WEBHOOK_SERIES",
    "METRICS_CONSUMER_IDLE_SECONDS",
]


@register(Tags.compatibility)
def check_observability_settings(app_configs=None, **kwargs) -> list:
    """Return an error for each operator-event or metrics setting the service can't use."""
    if not isinstance(getattr(settings, "WEBHOOKS", {}), dict):
        return []  # E001
    errors = []
    url, secret = app_settings.OPERATOR_WEBHOOK_URL, app_settings.OPERATOR_WEBHOOK_SECRET
    if not isinstance(url, str) or not isinstance(secret, str) or bool(url) != bool(secret):
        errors.append(
            _error(
                "webhooks.E060",
                "WEBHOOKS['OPERATOR_WEBHOOK_URL'] and ['OPERATOR_WEBHOOK_SECRET'] must be set "
                "together (operator events on) or both left empty (off).",
                "Set WEBHOOKS_OPERATOR_WEBHOOK_URL and WEBHOOKS_OPERATOR_WEBHOOK_SECRET.",
            )
        )
    elif url and urlsplit(url).scheme not in ("http", "https"):
        errors.append(
            _error(
                "webhooks.E061",
                "WEBHOOKS['OPERATOR_WEBHOOK_URL'] must be an http(s) URL.",
                f"Got {url!r}.",
            )
        )
    if isinstance(secret, str) and secret:
        try:
            valid = secret.startswith(signing.SECRET_PREFIX) and signing.sign(secret, "", 0, "")
        except ValueError:
            valid = False
        if not valid:
            errors.append(
                _error(
                    "webhooks.E062",
                    "WEBHOOKS['OPERATOR_WEBHOOK_SECRET'] must be whsec_ followed by base64.",
                    'Generate one with: python -c "from webhooks.signing import '
                    'generate_secret; print(generate_secret())"',
                )
            )
    try:
        uuid.UUID(str(app_settings.OPERATOR_PROJECT_ID))
    except ValueError:
        errors.append(
            _error(
                "webhooks.E063",
                "WEBHOOKS['OPERATOR_PROJECT_ID'] must be a UUID.",
                "A project id that no Agenta project uses; the default is "
                f"{DEFAULTS['OPERATOR_PROJECT_ID']}.",
            )
        )
    for name in METRICS_INTEGERS:
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                _error(
                    "webhooks.E064",
                    f"WEBHOOKS[{name!r}] must be a positive integer.",
                    f"Got {value!r}; the default is {DEFAULTS[name]!r}.",
                )
            )
    return errors
