"""Settings of the worker and scheduler subprocesses in tests/test_worker_integration.py.

The test settings, with a short dispatch lease so deliveries whose queue message was lost
(FLUSHALL, a killed worker) are kicked again within seconds instead of half a minute.
"""

from webhooks_project.test_settings import *  # noqa: F403
from webhooks_project.test_settings import WEBHOOKS

WEBHOOKS = {**WEBHOOKS, "DISPATCH_LEASE_SECONDS": 2}
