"""Settings of the benchmark's processes (`make bench`): production settings, loopback receiver.

The harness in tests/bench sets DATABASE_URL (the wh_bench database) and REDIS_URL (a private
redis-server) for every process it starts; the rest is production's, except what a benchmark on
one machine needs: a receiver on 127.0.0.1 over plain HTTP, and a short retry schedule so the
retry scenario finishes in seconds.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wh_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
os.environ.setdefault("DEBUG", "false")  # DEBUG would keep every query in memory
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("WEBHOOKS_AUTH_KEY", "bench-service-key")
os.environ.setdefault("WEBHOOKS_ENCRYPTION_KEYS", "bench-encryption-key-1")
# The test-ping flood logs in to the admin and the portal over plain HTTP on loopback.
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")

from webhooks_project.settings import *  # noqa: F403
from webhooks_project.settings import WEBHOOKS

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

WEBHOOKS = {
    **WEBHOOKS,
    "ALLOW_PRIVATE_DESTINATIONS": True,
    "REQUIRE_HTTPS": False,
    # The retry scenario: the first retry one second after the failure, without jitter.
    "RETRY_SCHEDULE_SECONDS": [1, 2, 4, 8, 16, 32],
    "RETRY_JITTER_RATIO": 0.0,
    # The scheduler's sweep every second (Taskiq's finest interval) picks due retries up.
    "DISPATCH_INTERVAL_SECONDS": 1.0,
}
