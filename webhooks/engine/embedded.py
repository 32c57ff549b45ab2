"""The embedded mode (no REDIS_URL): a daemon thread in the web process plays the scheduler
(the sweep, the retry timers and the liveness check: engine/ticker.py).

WebhooksConfig.ready() starts it on the process's first request, and when the in-process broker
starts (the first wake-up), so an emit from a shell is retried as well.
"""

import logging
import os
import threading

from django.conf import settings

from webhooks.engine import ticker

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start_dispatcher(*_event_args, **_signal_kwargs) -> bool:
    """Start the in-process sweep once per process when REDIS_URL is unset; return if it runs."""
    global _thread
    if settings.REDIS_URL:
        return False
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_sweep_forever, name="webhooks-sweep", daemon=True)
            _thread.start()
            logger.info("embedded mode: in-process sweep started")
    return True


def _sweep_forever() -> None:
    ticker.run(threading.Event())  # never set: the thread ends with its process


def _reset_after_fork() -> None:
    global _lock, _thread
    _lock, _thread = threading.Lock(), None


os.register_at_fork(after_in_child=_reset_after_fork)
