"""Settings of the worker and scheduler subprocesses in tests/test_recovery.py.

The test settings with the shipped timings of everything that recovery and retry punctuality
depend on (a sweep every 5 s, 30 s leases and wake-up leases, the liveness defaults), so the
times measured are those an operator gets; only the retry schedule is shortened, to 2 s.
"""

from tests.settings import *  # noqa: F403
from tests.settings import WEBHOOKS
from webhooks.conf import DEFAULTS

SHIPPED = [
    "DISPATCH_INTERVAL_SECONDS",
    "LEASE_SECONDS",
    "WAKE_LEASE_SECONDS",
    "WORKER_HEARTBEAT_SECONDS",
    "WORKER_SILENT_SECONDS",
    "TIMER_POLL_SECONDS",
]
RETRY_WAIT_SECONDS = 2.0

WEBHOOKS = {
    **WEBHOOKS,
    **{name: DEFAULTS[name] for name in SHIPPED},
    "RETRY_SCHEDULE_SECONDS": [RETRY_WAIT_SECONDS] * 6,
}
