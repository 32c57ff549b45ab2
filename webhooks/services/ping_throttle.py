"""Test pings: at most a share of each web process's threads at once, and a bucket per webhook.

A test ping waits for the endpoint in the request's thread (up to the delivery deadline), so
pings to hung endpoints could take every thread of the web tier and starve emits and reads.
Each process therefore sends at most TEST_PING_WEB_THREADS_RATIO of its request threads' worth
of pings at once, counted in the process (its threads are the resource); more are refused at
once, with the seconds until the oldest running ping's deadline.

Each webhook also has a bucket kept in the database, shared by every process (GCRA): a ping is
allowed unless the bucket's theoretical arrival time lies more than (burst - 1) intervals ahead;
each ping moves it one interval on. PostgreSQL and SQLite (the embedded mode) run it alike.
"""

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from webhooks import webserver
from webhooks.conf import app_settings
from webhooks.models import PingThrottle, Webhook

FALLBACK_WEB_THREADS = 4  # the Procfile's --threads, for a server that reports nothing


class PingRefused(Exception):
    """A test ping not sent (nothing recorded): a message for people, and when to try again."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


def web_threads() -> int:
    """Return this web process's request threads: the setting, else what gunicorn reported."""
    configured = app_settings.WEB_THREADS_PER_PROCESS
    return configured or webserver.reported_threads() or FALLBACK_WEB_THREADS


def share_size() -> int:
    """Return how many test pings this process sends at once (at least one)."""
    return max(1, math.floor(web_threads() * app_settings.TEST_PING_WEB_THREADS_RATIO))


class _Running:
    """The test pings this process is sending now, by token, with their monotonic start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[object, float] = {}

    def enter(self) -> object:
        """Return a token for one more ping, or raise PingRefused when the share is taken."""
        size = share_size()
        with self._lock:
            if len(self._started) >= size:
                raise PingRefused(
                    f"Too many test pings at once: this server sends at most {size} at a time, "
                    "each waiting for its endpoint; try again shortly.",
                    self._seconds_to_a_free_place(),
                )
            token = object()
            self._started[token] = time.monotonic()
            return token

    def leave(self, token: object) -> None:
        with self._lock:
            del self._started[token]

    def _seconds_to_a_free_place(self) -> int:
        # The oldest ping ends by its deadline at the latest (whole seconds, at least one).
        ends = min(self._started.values()) + app_settings.DELIVERY_TIMEOUT_SECONDS
        return max(1, math.ceil(ends - time.monotonic()))


_running = _Running()


@contextmanager
def ping_slot(webhook: Webhook) -> Iterator[None]:
    """Hold one of this process's test-ping places and one ping of webhook's bucket.

    Raise PingRefused, holding neither, when this process's share or the bucket is used up.
    """
    token = _running.enter()
    try:
        wait = take_test_ping(webhook)
        if wait:
            raise PingRefused(
                "Test pings to this webhook are throttled "
                f"({app_settings.TEST_PING_BURST} back to back, then "
                f"{app_settings.TEST_PING_RATE_PER_SECOND:g} a second); "
                f"try again in {math.ceil(wait)} s.",
                math.ceil(wait),
            )
        yield
    finally:
        _running.leave(token)


def take_test_ping(webhook: Webhook, now: datetime | None = None) -> float:
    """Take one test ping from webhook's bucket; return 0, or the seconds until one is allowed."""
    now = now or timezone.now()
    interval = timedelta(seconds=1 / app_settings.TEST_PING_RATE_PER_SECOND)
    tolerance = interval * (app_settings.TEST_PING_BURST - 1)
    with transaction.atomic():
        PingThrottle.objects.get_or_create(webhook=webhook, defaults={"theoretical_arrival": now})
        bucket = PingThrottle.objects.select_for_update().get(webhook=webhook)
        arrival = max(bucket.theoretical_arrival, now)
        if arrival - now > tolerance:
            return (arrival - now - tolerance).total_seconds()
        bucket.theoretical_arrival = arrival + interval
        bucket.save(update_fields=["theoretical_arrival"])
    return 0.0
