"""Settings of the subprocesses in tests/test_metrics_multiprocess.py: the worker settings, with
private destinations allowed unless TEST_ALLOW_PRIVATE_DESTINATIONS=false (to see them blocked).
"""

import os

from tests.worker_settings import *  # noqa: F403
from tests.worker_settings import WEBHOOKS

WEBHOOKS = {
    **WEBHOOKS,
    "ALLOW_PRIVATE_DESTINATIONS": os.environ.get("TEST_ALLOW_PRIVATE_DESTINATIONS") != "false",
}
