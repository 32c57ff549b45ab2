"""Worker liveness: each worker process writes a heartbeat row, and its claims name that row.

The heartbeat runs in a daemon thread of its own, on its own database connection, so delivery
threads that hang, a full pool or a busy event loop never delay it; it writes the database's
clock every WORKER_HEARTBEAT_SECONDS. The scheduler ends the leases of a worker silent for
longer than WORKER_SILENT_SECONDS (sweep.end_silent_workers). A process without a heartbeat (a
web process sending a test ping) claims with no worker: only its lease ends those claims.
"""

import logging
import os
import socket
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models.functions import Now

from webhooks.conf import app_settings
from webhooks.ids import uuid7
from webhooks.models import Worker

logger = logging.getLogger(__name__)


class _Heartbeat:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.worker_id: uuid.UUID | None = None
        self.thread: threading.Thread | None = None


_state = _Heartbeat()


def worker_id() -> uuid.UUID | None:
    """Return the id this process's claims are held by, or None if it has no heartbeat."""
    return _state.worker_id


def start_heartbeat(*_event_args, **_signal_kwargs) -> uuid.UUID | None:
    """Start this process's heartbeat thread once (on a worker's startup); return its id.

    Not in the embedded mode (no REDIS_URL): its one process sends and sweeps, and its leases
    end as leases do.
    """
    if not settings.REDIS_URL:
        return None
    with _state.lock:
        if _state.thread is None or not _state.thread.is_alive():
            _state.worker_id = uuid7()
            _state.thread = threading.Thread(
                target=_beat_forever,
                args=(_state.worker_id,),
                name="webhooks-heartbeat",
                daemon=True,
            )
            _state.thread.start()
            logger.info("worker %s (pid %d) heartbeats", _state.worker_id, os.getpid())
        return _state.worker_id


def beat(worker: uuid.UUID) -> None:
    """Write the worker's heartbeat now (the database's clock); make its row if it has none."""
    if not Worker.objects.filter(pk=worker).update(beat_at=Now()):
        # The first beat, or the scheduler deleted the row while this process was stalled.
        Worker.objects.create(
            id=worker,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=Now(),
            beat_at=Now(),
        )


def _beat_forever(worker: uuid.UUID) -> None:
    while True:  # until the process ends
        try:
            beat(worker)
        except DatabaseError as exc:  # the database restarted, or killed this session
            logger.warning("worker %s: heartbeat not written (%s)", worker, exc)
            connection.close()  # the next beat connects again
        except Exception:
            logger.exception("worker %s: heartbeat failed", worker)
        time.sleep(app_settings.WORKER_HEARTBEAT_SECONDS)


def _reset_after_fork() -> None:
    # The thread doesn't survive a fork; a child that is a worker starts its own.
    global _state
    _state = _Heartbeat()


os.register_at_fork(after_in_child=_reset_after_fork)
