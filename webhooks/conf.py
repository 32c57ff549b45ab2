"""The app's tunables: defaults here, overrides in settings.WEBHOOKS, read at call time."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Outgoing HTTP: connect timeout and the total budget of one attempt.
    "CONNECT_TIMEOUT_SECONDS": 3.0,
    "DELIVERY_TIMEOUT_SECONDS": 10.0,
    "RESPONSE_BODY_LIMIT_BYTES": 16 * 1024,
    # Retries: the waits after attempt 1, 2, ... (7 attempts in all), each +- the jitter ratio.
    "RETRY_SCHEDULE_SECONDS": [5, 300, 1800, 7200, 18000, 36000],
    "RETRY_JITTER_RATIO": 0.2,
    # A claimed delivery belongs to its worker for this long; must exceed the HTTP timeout.
    "LEASE_SECONDS": 30,
    # The scheduler's sweep: how often, how many rows, and how long a kicked row stays kicked.
    "DISPATCH_INTERVAL_SECONDS": 5.0,
    "DISPATCH_BATCH_SIZE": 1000,
    "DISPATCH_LEASE_SECONDS": 30,
    # How long a web request (or a sweep) waits for Redis to accept its kicks before it gives up
    # and leaves the deliveries to the next sweep.
    "ENQUEUE_TIMEOUT_SECONDS": 5.0,
    # Deliveries left in delivering longer than this are returned to pending by retry-stuck.
    "STUCK_AFTER_SECONDS": 3600,
    # History and endpoint health.
    "RETENTION_DAYS": 30,
    # Cleanup: rows per batch (one short transaction each; at most 100,000), and how often a
    # run with progress output prints a line.
    "CLEANUP_BATCH_SIZE": 5000,
    "CLEANUP_PROGRESS_SECONDS": 5.0,
    "DISABLE_AFTER_FAILING_DAYS": 5,
    "RECOVER_MAX_DAYS": 14,
    "RECOVER_MAX_DELIVERIES": 10_000,
    # Destinations: private addresses are refused unless allowed; https is required when None
    # resolves to "not DEBUG".
    "ALLOW_PRIVATE_DESTINATIONS": False,
    "REQUIRE_HTTPS": None,
    # Limits on what users send.
    "MAX_PAYLOAD_BYTES": 256 * 1024,
    "MAX_WEBHOOKS_PER_PROJECT": 50,
    "MAX_CUSTOM_HEADERS": 20,
    "SECRET_GRACE_PERIOD_SECONDS": 24 * 3600,
}


class AppSettings:
    """Attribute access to the WEBHOOKS namespace, re-read on every access."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"unknown webhooks setting {name!r}")
        overrides = getattr(settings, "WEBHOOKS", None) or {}
        value = overrides.get(name, DEFAULTS[name])
        if name == "REQUIRE_HTTPS" and value is None:
            return not settings.DEBUG
        return value


app_settings = AppSettings()
