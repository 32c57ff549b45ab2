"""System checks that reject bad WEBHOOKS settings at startup, each with a stable id and a hint."""

import logging
import re
import uuid
from numbers import Real
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register, run_checks
from django.db import DatabaseError, connection

from webhooks import signing
from webhooks.conf import DEFAULTS, app_settings
from webhooks.models import MAX_IN_FLIGHT_LIMIT

logger = logging.getLogger(__name__)

POSITIVE_NUMBERS = [
    "CONNECT_TIMEOUT_SECONDS",
    "DELIVERY_TIMEOUT_SECONDS",
    "LEASE_SECONDS",
    "DISPATCH_INTERVAL_SECONDS",
    "WAKE_LEASE_SECONDS",
    "LANE_TIME_SLICE_SECONDS",
    "ENQUEUE_TIMEOUT_SECONDS",
    "STUCK_AFTER_SECONDS",
    "TEST_PING_RATE_PER_SECOND",
]
POSITIVE_INTEGERS = [
    "RESPONSE_BODY_LIMIT_BYTES",
    "RESPONSE_HEADERS_LIMIT_COUNT",
    "RESPONSE_HEADERS_LIMIT_BYTES",
    "DISPATCH_BATCH_SIZE",
    "BATCH_SIZE",
    "MAX_IN_FLIGHT_PER_WEBHOOK",
    "MAX_LEASE_EXPIRIES",
    "RETENTION_DAYS",
    "DISABLE_AFTER_FAILING_DAYS",
    "RECOVER_MAX_DAYS",
    "RECOVER_MAX_DELIVERIES",
    "MAX_PAYLOAD_BYTES",
    "MAX_WEBHOOKS_PER_PROJECT",
    "MAX_CUSTOM_HEADERS",
    "TEST_PING_BURST",
]
BOOLEANS = ["ALLOW_PRIVATE_DESTINATIONS"]
MAX_PORTAL_LINK_SECONDS = 24 * 3600  # a link is meant to be opened at once, not kept
# A CSP source Agenta's page can be served from: an http(s) origin (subdomain wildcard allowed)
# or 'self'. Nothing else, so a value can't add directives to the header.
FRAME_ANCESTOR = re.compile(r"^(https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?|'self')$")


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
    errors += _check_portal()
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
    connect, time_slice = app_settings.CONNECT_TIMEOUT_SECONDS, app_settings.LANE_TIME_SLICE_SECONDS
    if not all(_is_number(v) for v in (lease, timeout, connect, time_slice)):
        return []  # already reported by E003
    errors = []
    if lease <= time_slice + timeout:
        errors.append(
            _error(
                "webhooks.E008",
                "WEBHOOKS['LEASE_SECONDS'] must exceed WEBHOOKS['LANE_TIME_SLICE_SECONDS'] plus "
                "WEBHOOKS['DELIVERY_TIMEOUT_SECONDS'].",
                f"A lease of {lease}s could expire while a lane's last {timeout}s request is in "
                "flight, and the delivery would be sent twice.",
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
    in_flight = app_settings.MAX_IN_FLIGHT_PER_WEBHOOK
    if isinstance(in_flight, int) and in_flight > MAX_IN_FLIGHT_LIMIT:
        errors.append(
            _error(
                "webhooks.E010",
                f"WEBHOOKS['MAX_IN_FLIGHT_PER_WEBHOOK'] must be at most {MAX_IN_FLIGHT_LIMIT}.",
                f"Got {in_flight}; the default is {DEFAULTS['MAX_IN_FLIGHT_PER_WEBHOOK']}.",
            )
        )
    return errors


def _check_portal() -> list:
    errors = []
    link = app_settings.PORTAL_LINK_SECONDS
    if (
        not isinstance(link, int)
        or isinstance(link, bool)
        or not 0 < link <= MAX_PORTAL_LINK_SECONDS
    ):
        errors.append(
            _error(
                "webhooks.E070",
                f"WEBHOOKS['PORTAL_LINK_SECONDS'] must be a whole number of seconds in "
                f"1..{MAX_PORTAL_LINK_SECONDS}.",
                f"Got {link!r}; the default is 900 (15 minutes). A link is opened at once.",
            )
        )
    hours = app_settings.PORTAL_SESSION_HOURS
    if not _is_number(hours) or hours <= 0:
        errors.append(
            _error(
                "webhooks.E071",
                "WEBHOOKS['PORTAL_SESSION_HOURS'] must be a positive number.",
                f"Got {hours!r}; the default is 8.",
            )
        )
    ancestors = app_settings.PORTAL_FRAME_ANCESTORS
    if not isinstance(ancestors, list | tuple) or not all(
        isinstance(origin, str) and FRAME_ANCESTOR.match(origin) for origin in ancestors
    ):
        errors.append(
            _error(
                "webhooks.E072",
                "WEBHOOKS['PORTAL_FRAME_ANCESTORS'] must be a list of origins.",
                f'Got {ancestors!r}; for example ["https://cloud.agenta.ai"], or [] to forbid '
                "framing the portal.",
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
    """Log the database checks of the encryption keys (gunicorn and taskiq skip system checks)."""
    try:
        messages = run_checks(tags=[ENCRYPTION_KEYS_TAG], databases=["default"])
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
