"""A hard wall-clock deadline for one HTTP attempt, whatever the endpoint does.

urllib3's timeouts bound each socket operation, not the whole exchange: an endpoint that drips
its answer a byte at a time, or never ends its headers, keeps an attempt going for as long as it
likes. Here one watchdog thread per process shuts down the sockets of every attempt whose
deadline has passed, which wakes the blocked read or write at once. The name lookup, which no
shutdown can interrupt, is waited for until the deadline (webhooks/resolver.py).
"""

import contextlib
import contextvars
import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

_current: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar(
    "webhooks_deadline", default=None
)


class DeadlineExceeded(TimeoutError):
    """The attempt's wall-clock budget ran out."""


class Deadline:
    """The budget of one attempt; sockets registered with it are shut down when it passes."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.at = self.started + seconds
        self.expired = False
        self.finished = False  # the attempt is over: the watchdog drops it without waiting
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def remaining(self) -> float:
        """Return the seconds left (0 when the deadline has passed)."""
        return max(0.0, self.at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut sock down when the deadline passes (at once if it already has)."""
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shutdown(sock)

    def expire(self) -> None:
        """Mark the deadline passed and shut down every socket watched for it."""
        with self._lock:
            self.expired, sockets, self._sockets = True, self._sockets, []
        for sock in sockets:
            _shutdown(sock)

    def __enter__(self) -> "Deadline":
        self._token = _current.set(self)
        _watchdog.add(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _current.reset(self._token)
        with self._lock:
            self._sockets = []  # the attempt is over: nothing of it may be shut down later
            self.finished = True


def current() -> Deadline | None:
    """Return the deadline of the attempt running in this thread, if any."""
    return _current.get()


def _shutdown(sock: socket.socket) -> None:
    # The base class's shutdown also works on an SSLSocket and leaves its state alone; a
    # socket already closed or never connected raises OSError.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that expires deadlines in time order.

    It only wakes for a deadline that is still running when its time comes: finished ones
    (nearly all) are dropped from the top of the heap whenever it looks, so a busy worker
    doesn't wake it once per attempt.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._counter), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="webhooks-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    while self._heap and self._heap[0][2].finished:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, deadline = heapq.heappop(self._heap)
            deadline.expire()  # an attempt that already ended has no sockets left: a no-op


_watchdog = _Watchdog()


def _reset_after_fork() -> None:
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_reset_after_fork)
