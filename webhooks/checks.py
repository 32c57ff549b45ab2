"""System checks that reject bad WEBHOOKS settings at startup, each with a stable id and a hint."""

from numbers import Real

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from webhooks.conf import DEFAULTS, app_settings

POSITIVE_NUMBERS = [
    "CONNECT_TIMEOUT_SECONDS",
    "DELIVERY_TIMEOUT_SECONDS",
    "LEASE_SECONDS",
    "DISPATCH_INTERVAL_SECONDS",
    "DISPATCH_LEASE_SECONDS",
    "ENQUEUE_TIMEOUT_SECONDS",
    "STUCK_AFTER_SECONDS",
]
POSITIVE_INTEGERS = [
    "RESPONSE_BODY_LIMIT_BYTES",
    "DISPATCH_BATCH_SIZE",
    "RETENTION_DAYS",
    "DISABLE_AFTER_FAILING_DAYS",
    "RECOVER_MAX_DAYS",
    "RECOVER_MAX_DELIVERIES",
    "MAX_PAYLOAD_BYTES",
    "MAX_WEBHOOKS_PER_PROJECT",
    "MAX_CUSTOM_HEADERS",
]
BOOLEANS = ["ALLOW_PRIVATE_DESTINATIONS"]


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _error(id_: str, msg: str, hint: str) -> Error:
    return Error(msg, hint=hint, obj="settings.WEBHOOKS", id=id_)


@register(Tags.compatibility)
def check_webhooks_settings(app_configs=None, **kwargs) -> list:
    """Return an error for each WEBHOOKS value that the service can't run with."""
    raw = getattr(settings, "WEBHOOKS", {})
    if not isinstance(raw, dict):
        return [_error("webhooks.E001", "WEBHOOKS must be a dict.", "WEBHOOKS = {'KEY': value}")]
    errors: list = []
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        errors.append(
            _error(
                "webhooks.E002",
                f"Unknown WEBHOOKS keys: {', '.join(unknown)}.",
                f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            )
        )
    for name in POSITIVE_NUMBERS:
        value = getattr(app_settings, name)
        if not _is_number(value) or value <= 0:
            errors.append(
                _error(
                    "webhooks.E003",
                    f"WEBHOOKS[{name!r}] must be a positive number.",
                    f"Got {value!r}; the default is {DEFAULTS[name]!r}.",
                )
            )
    for name in POSITIVE_INTEGERS:
        value = getattr(app_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                _error(
                    "webhooks.E004",
                    f"WEBHOOKS[{name!r}] must be a positive integer.",
                    f"Got {value!r}; the default is {DEFAULTS[name]!r}.",
                )
            )
    for name in [*BOOLEANS, "REQUIRE_HTTPS"]:
        if not isinstance(getattr(app_settings, name), bool):
            errors.append(
                _error(
                    "webhooks.E005",
                    f"WEBHOOKS[{name!r}] must be True or False.",
                    f"Got {raw.get(name)!r}.",
                )
            )
    errors += _check_retry_schedule()
    errors += _check_lease()
    errors += _check_cleanup()
    return errors


def _check_retry_schedule() -> list:
    errors = []
    schedule = app_settings.RETRY_SCHEDULE_SECONDS
    if not isinstance(schedule, list | tuple) or not all(
        _is_number(step) and step > 0 for step in schedule
    ):
        errors.append(
            _error(
                "webhooks.E006",
                "WEBHOOKS['RETRY_SCHEDULE_SECONDS'] must be a list of "
                "positive numbers (the waits between attempts).",
                "For example [5, 300, 1800, 7200, 18000, 36000]; [] means a single attempt.",
            )
        )
    jitter = app_settings.RETRY_JITTER_RATIO
    if not _is_number(jitter) or not 0 <= jitter < 1:
        errors.append(
            _error(
                "webhooks.E007",
                "WEBHOOKS['RETRY_JITTER_RATIO'] must be in [0, 1).",
                f"Got {jitter!r}; 0.2 means +-20%.",
            )
        )
    return errors


def _check_lease() -> list:
    lease, timeout = app_settings.LEASE_SECONDS, app_settings.DELIVERY_TIMEOUT_SECONDS
    connect = app_settings.CONNECT_TIMEOUT_SECONDS
    if not all(_is_number(v) for v in (lease, timeout, connect)):
        return []  # already reported by E003
    errors = []
    if lease <= timeout:
        errors.append(
            _error(
                "webhooks.E008",
                "WEBHOOKS['LEASE_SECONDS'] must exceed WEBHOOKS['DELIVERY_TIMEOUT_SECONDS'].",
                f"A lease of {lease}s could expire while a {timeout}s request is in flight, "
                "and the delivery would be sent twice.",
            )
        )
    if connect > timeout:
        errors.append(
            _error(
                "webhooks.E009",
                "WEBHOOKS['CONNECT_TIMEOUT_SECONDS'] must not exceed "
                "WEBHOOKS['DELIVERY_TIMEOUT_SECONDS'].",
                "The total includes the connect time.",
            )
        )
    return errors


MAX_CLEANUP_BATCH = 100_000  # rows locked by one cleanup transaction


def _check_cleanup() -> list:
    errors = []
    size = app_settings.CLEANUP_BATCH_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_CLEANUP_BATCH:
        errors.append(
            _error(
                "webhooks.E040",
                f"WEBHOOKS['CLEANUP_BATCH_SIZE'] must be an integer from 1 to "
                f"{MAX_CLEANUP_BATCH:,}.",
                f"Got {size!r}; each batch is one transaction that locks its rows, "
                f"so keep it near the default {DEFAULTS['CLEANUP_BATCH_SIZE']}.",
            )
        )
    interval = app_settings.CLEANUP_PROGRESS_SECONDS
    if not _is_number(interval) or interval <= 0:
        errors.append(
            _error(
                "webhooks.E041",
                "WEBHOOKS['CLEANUP_PROGRESS_SECONDS'] must be a positive number.",
                f"Got {interval!r}; the cleanup prints a progress line this often (seconds).",
            )
        )
    return errors


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
