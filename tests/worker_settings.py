"""Settings of the worker and scheduler subprocesses in tests/test_worker_integration.py.

The test settings, with a short wake-up lease so webhooks whose queue message was lost
(FLUSHALL, a killed worker) are woken again within seconds instead of half a minute.
"""

from tests.settings import *  # noqa: F403
from tests.settings import WEBHOOKS

WEBHOOKS = {**WEBHOOKS, "WAKE_LEASE_SECONDS": 2}
