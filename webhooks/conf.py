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
    # Operator events (webhook.disabled, webhook.failing, delivery.exhausted) about the service
    # itself: sent when both the URL and the secret (whsec_...) are set, as deliveries of the
    # reserved project OPERATOR_PROJECT_ID, whose one webhook is kept in step with these.
    "OPERATOR_WEBHOOK_URL": "",
    "OPERATOR_WEBHOOK_SECRET": "",
    "OPERATOR_PROJECT_ID": "00000000-0000-0000-0000-000000000000",
    # Scrape-time gauges of /metrics: counts stop at this many rows (keeps a scrape cheap when a
    # backlog is huge), at most this many failing webhooks get a series of their own, and a
    # stream consumer idle longer than this (seconds) is not counted as a live worker.
    "METRICS_COUNT_LIMIT": 100_000,
    "METRICS_FAILING_WEBHOOK_SERIES": 100,
    "METRICS_CONSUMER_IDLE_SECONDS": 60,
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
