"""The scheduler's loop: retry timers, silent workers and the sweep, each at its own pace.

Every TIMER_POLL_SECONDS the due retry timers are woken (one Redis call); every
WORKER_HEARTBEAT_SECONDS the leases of silent workers are ended (one indexed query when none
is); every DISPATCH_INTERVAL_SECONDS the sweep runs. A worker found dead is followed by a sweep
at once. One failing step never stops the others; after the database was out of reach (or at
start), workers are judged only once their heartbeats had time to come back.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connection

from webhooks.conf import app_settings
from webhooks.engine import sweep, timers

logger = logging.getLogger(__name__)


def run(stop: threading.Event) -> None:
    """Run the loop until stop is set."""
    schedule = _Schedule(time.monotonic())
    while not stop.is_set():
        schedule.tick(time.monotonic())
        stop.wait(app_settings.TIMER_POLL_SECONDS)
    close_old_connections()


class _Schedule:
    """When each step is due next, and since when the database has answered us."""

    def __init__(self, now: float) -> None:
        self.next_sweep = self.next_check = now
        # Silence is judged only after WORKER_SILENT_SECONDS of reaching the database ourselves:
        # after an outage (or at start) the workers' heartbeats need that long to be seen again.
        self.reachable_since = now

    def tick(self, now: float) -> None:
        if now >= self.next_check:
            self._check_workers(now)
        if now >= self.next_sweep:
            self._sweep(now, sweep.dispatch_due)
        _step(timers.wake_due, "the retry timers", database=False)

    def _check_workers(self, now: float) -> None:
        self.next_check = now + app_settings.WORKER_HEARTBEAT_SECONDS
        if now - self.reachable_since < app_settings.WORKER_SILENT_SECONDS:
            self._note(_step(_reach_database, "the database check", quiet=True))
        elif self._note(_step(sweep.end_silent_workers, "the liveness check")):
            # Their deliveries are due now; force: the dead worker may have read wake-ups.
            self._sweep(now, lambda: sweep.dispatch_due(force=True))

    def _sweep(self, now: float, run_sweep: Callable[[], int]) -> None:
        self.next_sweep = now + app_settings.DISPATCH_INTERVAL_SECONDS
        self._note(_step(run_sweep, "the sweep"))

    def _note(self, result: int | None) -> int | None:
        if result is None:
            self.reachable_since = time.monotonic()
        return result


def _reach_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return 0


def _step(
    step: Callable[[], int], what: str, database: bool = True, quiet: bool = False
) -> int | None:
    """Run one step; return its result, or None if it failed (logged)."""
    if database:
        close_old_connections()  # a connection the database dropped is replaced first
    try:
        return step()
    except Exception as exc:
        if quiet:  # the sweep's failures say it too, less often
            logger.debug("%s failed (%s)", what, exc)
        else:
            logger.exception("%s failed; the next round tries again", what)
        return None
