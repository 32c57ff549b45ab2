"""The app's tunables: defaults here, overrides in settings.WEBHOOKS, read at call time."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Outgoing HTTP: connect timeout and the total budget of one attempt.
    "CONNECT_TIMEOUT_SECONDS": 3.0,
    "DELIVERY_TIMEOUT_SECONDS": 10.0,
    "RESPONSE_BODY_LIMIT_BYTES": 16 * 1024,
    # Name lookups (per process): how long an answer is kept (getaddrinfo does not tell the
    # record's TTL), and how many lookups may be running for one webhook and in all. A host is
    # looked up once at a time, on a thread of its own (docs/operations.md, "Name resolution").
    "DNS_CACHE_SECONDS": 60.0,
    "DNS_LOOKUPS_PER_WEBHOOK": 2,
    "DNS_MAX_LOOKUPS_IN_FLIGHT": 256,
    # What an attempt keeps of the response's headers: at most this many, this many bytes in all.
    "RESPONSE_HEADERS_LIMIT_COUNT": 64,
    "RESPONSE_HEADERS_LIMIT_BYTES": 8 * 1024,
    # Retries: the waits after attempt 1, 2, ... (7 attempts in all), each +- the jitter ratio.
    "RETRY_SCHEDULE_SECONDS": [5, 300, 1800, 7200, 18000, 36000],
    "RETRY_JITTER_RATIO": 0.2,
    # A claimed delivery, and a lane, belong to their worker for this long (the database's clock);
    # must exceed the lane time slice plus the HTTP timeout.
    "LEASE_SECONDS": 30,
    # Endpoint lanes: attempts of one webhook in flight at once (a webhook's max_in_flight wins),
    # deliveries claimed per statement, and how long a lane keeps its thread before giving it back.
    "MAX_IN_FLIGHT_PER_WEBHOOK": 4,
    # A project's attempts in flight at once across all its webhooks (a webhook's max_in_flight
    # may not exceed it): keep it well under one worker pool, so one project never takes it all.
    "MAX_IN_FLIGHT_PER_PROJECT": 8,
    # The circuit breaker: a webhook whose automatic attempts failed (or timed out) this many
    # times in a row sends over one lane only, until an attempt succeeds.
    "CIRCUIT_BREAKER_FAILURES": 3,
    "BATCH_SIZE": 50,
    "LANE_TIME_SLICE_SECONDS": 1.0,
    # Lingering: a lane whose webhook had work twice within this long keeps its lane (and thread)
    # this long when nothing more is due, and takes the webhook's next wake-up straight from
    # Redis instead of the queue; at most LANE_LINGER_PER_PROCESS lanes of a worker process at
    # once, and never while another webhook of its project waits for a slot. Its last batch's
    # record waits with it (written with the next claim or the release). 0 turns it off.
    "LANE_LINGER_SECONDS": 0.05,
    "LANE_LINGER_PER_PROCESS": 4,
    # The engine's statements are prepared on each PostgreSQL connection (planned once, not at
    # every execution). Turn off behind a pooler that can't keep prepared statements
    # (PgBouncer in transaction mode before 1.21, or with max_prepared_statements = 0).
    "PREPARED_STATEMENTS": True,
    # A delivery whose lease expires this many times with no attempt recorded (a worker killed on
    # it, again and again) fails instead of being claimed forever.
    "MAX_LEASE_EXPIRIES": 3,
    # Worker liveness: each worker process writes a heartbeat this often, and the scheduler ends
    # the leases of a worker silent for longer than WORKER_SILENT_SECONDS (checked as often as
    # the heartbeat), so a killed worker's deliveries go out again within seconds; LEASE_SECONDS
    # stays the backstop.
    "WORKER_HEARTBEAT_SECONDS": 1.0,
    "WORKER_SILENT_SECONDS": 5.0,
    # Retry timers: how often the scheduler moves the timers that are due to the wake-up queue.
    "TIMER_POLL_SECONDS": 0.1,
    # Lane and claim statements wait for PostgreSQL's WAL flush, so a claim survives a database
    # crash (no delivery in flight twice, caps kept). False saves one fsync per claim; a crash
    # then undoes the claims of the WAL writer's last fraction of a second (docs/operations.md).
    "DURABLE_CLAIMS": True,
    # The sweep: how often, how many webhooks it wakes per run, and how long a wake-up sent for a
    # webhook stands for later ones (at most one waits in the queue per webhook meanwhile).
    "DISPATCH_INTERVAL_SECONDS": 5.0,
    "DISPATCH_BATCH_SIZE": 1000,
    "WAKE_LEASE_SECONDS": 30,
    # How long a web request (or a sweep) waits for Redis to accept its kicks before it gives up
    # and leaves the deliveries to the next sweep.
    "ENQUEUE_TIMEOUT_SECONDS": 5.0,
    # Deliveries left in delivering longer than this are returned to pending by retry-stuck.
    "STUCK_AFTER_SECONDS": 3600,
    # History and endpoint health.
    "RETENTION_DAYS": 30,
    # Cleanup: rows per batch (one short transaction each; at most 100,000: larger batches go
    # faster but delay concurrent writers' commits behind their WAL), and how often a run with
    # progress output prints a line.
    "CLEANUP_BATCH_SIZE": 2000,
    "CLEANUP_PROGRESS_SECONDS": 5.0,
    "DISABLE_AFTER_FAILING_DAYS": 5,
    # Recover: the window when no since is given, how far back it may reach, how much it re-sends.
    "RECOVER_DEFAULT_DAYS": 1,
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
    # The project portal: how long a link may wait to be opened, how long the session it opens
    # lasts, and the origins (e.g. "https://cloud.agenta.ai") allowed to frame it; [] = none.
    "PORTAL_LINK_SECONDS": 15 * 60,
    "PORTAL_SESSION_HOURS": 8,
    "PORTAL_FRAME_ANCESTORS": [],
    # Test pings per webhook (API, admin and portal): this many per second on average, in bursts
    # of up to TEST_PING_BURST; more answer 429 with Retry-After.
    "TEST_PING_RATE_PER_SECOND": 1.0,
    "TEST_PING_BURST": 5,
    # Test pings wait for their endpoint in a web thread: each web process sends at most this
    # ratio of its request threads' worth at once (at least one); more answer 429 at once.
    # WEB_THREADS_PER_PROCESS None = the count gunicorn reports (its --threads), else 4.
    "TEST_PING_WEB_THREADS_RATIO": 0.5,
    "WEB_THREADS_PER_PROCESS": None,
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
