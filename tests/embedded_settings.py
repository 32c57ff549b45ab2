"""Settings of the embedded-mode server in tests/test_embedded.py: the real settings, run with
no REDIS_URL and a SQLite file, with a retry schedule short enough to watch."""

from webhooks_project.settings import *  # noqa: F403
from webhooks_project.settings import WEBHOOKS

WEBHOOKS = {
    **WEBHOOKS,
    "RETRY_SCHEDULE_SECONDS": [0.5, 0.5],
    "RETRY_JITTER_RATIO": 0.0,
    "DISPATCH_INTERVAL_SECONDS": 0.2,
}
