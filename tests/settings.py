"""Settings for the test suite: PostgreSQL and Redis on 127.0.0.1 unless the environment says so."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/webhooks")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("WEBHOOKS_AUTH_KEY", "test-service-key")
os.environ.setdefault("WEBHOOKS_ENCRYPTION_KEYS", "test-encryption-key-1")

from webhooks_project.settings import *  # noqa: F403

ALLOWED_HOSTS = ["*"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The receiver lives on 127.0.0.1 and the schedule is shortened so retries are observable.
WEBHOOKS = {
    "ALLOW_PRIVATE_DESTINATIONS": True,
    "REQUIRE_HTTPS": False,
    "RETRY_SCHEDULE_SECONDS": [0.2, 0.4, 0.6, 0.8, 1.0, 1.2],
    "RETRY_JITTER_RATIO": 0.0,
    "CONNECT_TIMEOUT_SECONDS": 1.0,
    "DELIVERY_TIMEOUT_SECONDS": 2.0,
    "DISPATCH_INTERVAL_SECONDS": 0.5,
    "LEASE_SECONDS": 5,
    # Liveness within the short lease (check E083).
    "WORKER_HEARTBEAT_SECONDS": 0.5,
    "WORKER_SILENT_SECONDS": 3.0,
}
