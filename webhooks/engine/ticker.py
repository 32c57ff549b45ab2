"""The scheduler's loop: retry timers, silent workers and the sweep, each at its own pace.

Every TIMER_POLL_SECONDS the due retry timers are woken (one Redis call); every
WORKER_HEARTBEAT_SECONDS the leases of silent workers are ended (one indexed query when none
is); every DISPATCH_INTERVAL_SECONDS the sweep runs. A worker found dead is followed by a sweep
at once. One failing step never stops the others.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

from webhooks.conf import app_settings
from webhooks.engine import sweep, timers

logger = logging.getLogger(__name__)


def run(stop: threading.Event) -> None:
    """Run the loop until stop is set."""
    next_sweep = next_check = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_check:
            next_check = now + app_settings.WORKER_HEARTBEAT_SECONDS
            if _step(sweep.end_silent_workers, "the liveness check"):
                # Their deliveries are due now; force: the dead worker may have read wake-ups.
                _step(lambda: sweep.dispatch_due(force=True), "the sweep")
                next_sweep = now + app_settings.DISPATCH_INTERVAL_SECONDS
        if now >= next_sweep:
            next_sweep = now + app_settings.DISPATCH_INTERVAL_SECONDS
            _step(sweep.dispatch_due, "the sweep")
        _step(timers.wake_due, "the retry timers", database=False)
        stop.wait(app_settings.TIMER_POLL_SECONDS)
    close_old_connections()


def _step(step: Callable[[], int], what: str, database: bool = True) -> int:
    if database:
        close_old_connections()  # a connection the database dropped is replaced first
    try:
        return step()
    except Exception:
        logger.exception("%s failed; the next round tries again", what)
        return 0
