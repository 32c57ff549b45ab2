"""The WEBHOOKS settings the service can't run with: E001-E012 (E040s, E070s, E080s elsewhere)."""

from django.conf import settings
from django.core.checks import Tags, register

from webhooks.checks.common import _error, _is_number
from webhooks.checks.pings import _check_test_pings
from webhooks.checks.portal import _check_portal
from webhooks.checks.retention import _check_cleanup
from webhooks.conf import DEFAULTS, app_settings
from webhooks.models import MAX_IN_FLIGHT_LIMIT

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
    "DNS_CACHE_SECONDS",
]
POSITIVE_INTEGERS = [
    "RESPONSE_BODY_LIMIT_BYTES",
    "RESPONSE_HEADERS_LIMIT_COUNT",
    "RESPONSE_HEADERS_LIMIT_BYTES",
    "DISPATCH_BATCH_SIZE",
    "BATCH_SIZE",
    "MAX_IN_FLIGHT_PER_WEBHOOK",
    "MAX_IN_FLIGHT_PER_PROJECT",
    "CIRCUIT_BREAKER_FAILURES",
    "MAX_LEASE_EXPIRIES",
    "RETENTION_DAYS",
    "DISABLE_AFTER_FAILING_DAYS",
    "RECOVER_DEFAULT_DAYS",
    "RECOVER_MAX_DAYS",
    "RECOVER_MAX_DELIVERIES",
    "MAX_PAYLOAD_BYTES",
    "MAX_WEBHOOKS_PER_PROJECT",
    "MAX_CUSTOM_HEADERS",
    "TEST_PING_BURST",
    "DNS_LOOKUPS_PER_WEBHOOK",
    "DNS_MAX_LOOKUPS_IN_FLIGHT",
]
BOOLEANS = ["ALLOW_PRIVATE_DESTINATIONS", "DURABLE_CLAIMS", "PREPARED_STATEMENTS"]


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
    errors += _check_recover()
    errors += _check_lease()
    errors += _check_portal()
    errors += _check_cleanup()
    errors += _check_test_pings()
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


def _check_recover() -> list:
    default, most = app_settings.RECOVER_DEFAULT_DAYS, app_settings.RECOVER_MAX_DAYS
    if isinstance(default, int) and isinstance(most, int) and default > most:
        return [
            _error(
                "webhooks.E011",
                "WEBHOOKS['RECOVER_DEFAULT_DAYS'] must not exceed WEBHOOKS['RECOVER_MAX_DAYS'].",
                f"A recover without 'since' would reach back {default} days, more than the "
                f"{most} allowed, and always be refused.",
            )
        ]
    return []


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
    project = app_settings.MAX_IN_FLIGHT_PER_PROJECT
    if isinstance(in_flight, int) and isinstance(project, int) and in_flight > project:
        errors.append(
            _error(
                "webhooks.E012",
                "WEBHOOKS['MAX_IN_FLIGHT_PER_WEBHOOK'] must not exceed "
                "WEBHOOKS['MAX_IN_FLIGHT_PER_PROJECT'].",
                f"A project's attempts in flight are capped at {project}; no webhook of it "
                "can use more lanes than that.",
            )
        )
    return errors
