"""Kick delivery tasks from synchronous Django code, through one background event loop per process.

Taskiq has no synchronous kiq(): each process gets one daemon thread running an asyncio loop,
with its own broker client (a fork gets fresh ones). Nothing here raises to the caller: a kick
that fails is logged, and the sweep (dispatch_due) sends that delivery later.
"""

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from functools import partial

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, transaction
from taskiq import AsyncBroker, TaskiqMessage
from taskiq.kicker import AsyncKicker

from webhooks.conf import app_settings

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
KICK_BATCH = 500  # messages per pipelined round trip to Redis


class _Loop:
    """The process's background event loop and the broker clients that live on it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.publishers: dict[str, AsyncBroker] = {}

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            alive = self.thread is not None and self.thread.is_alive()
            if self.loop is None or self.pid != os.getpid() or not alive:
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(
                    target=self.loop.run_forever, name="webhooks-enqueue", daemon=True
                )
                self.thread.start()
                self.pid, self.publishers = os.getpid(), {}
            return self.loop

    async def publisher(self, redis_url: str) -> AsyncBroker:
        """Return the broker client for redis_url (the in-process broker when it is empty)."""
        if redis_url not in self.publishers:
            from webhooks import tasks  # noqa: F401  (registers the tasks the in-process broker runs)
            from webhooks.broker import broker, make_broker

            if redis_url:
                client = make_broker(redis_url, socket_timeout=app_settings.ENQUEUE_TIMEOUT_SECONDS)
            else:
                client = broker  # its tasks run in this process, on this loop
                await client.startup()
            self.publishers[redis_url] = client
        return self.publishers[redis_url]


_state = _Loop()


def enqueue_deliveries(delivery_ids: Iterable) -> None:
    """Kick one deliver task per id once the current transaction commits (now, outside one).

    Inside a web request the kick waits until the response has been sent (request_finished):
    the worker starting 50 deliveries at once otherwise slows down the very response that
    caused them (docs/performance.md).
    """
    ids = [str(i) for i in delivery_ids]
    if ids:
        transaction.on_commit(partial(_kick_after_response, ids), robust=True)


_request = threading.local()  # .deferred: the ids to kick once this thread's response is out


def _kick_after_response(ids: list[str]) -> None:
    deferred = getattr(_request, "deferred", None)
    if deferred is None:
        kick_deliveries(ids)
    else:
        deferred.extend(ids)


def _defer_kicks(**_signal_kwargs) -> None:
    _request.deferred = []


def _send_deferred_kicks(**_signal_kwargs) -> None:
    ids, _request.deferred = getattr(_request, "deferred", None), None
    if ids:
        kick_deliveries(ids)


request_started.connect(_defer_kicks, dispatch_uid="webhooks-defer-kicks")
request_finished.connect(_send_deferred_kicks, dispatch_uid="webhooks-send-deferred-kicks")


def kick_deliveries(delivery_ids: Sequence[uuid.UUID | str]) -> int:
    """Send one deliver task per id now and return how many the queue took; never raise.

    The ids the queue did not take get their dispatch lease cleared, so the next sweep sends
    them as soon as the queue is back.
    """
    if not settings.REDIS_URL:
        start_embedded_dispatcher()
    ids = [str(i) for i in delivery_ids]
    try:
        loop = _state.get()
        future = asyncio.run_coroutine_threadsafe(_kick_all(ids, settings.REDIS_URL), loop)
        unsent = future.result(timeout=app_settings.ENQUEUE_TIMEOUT_SECONDS)
    except Exception as exc:  # timed out: some may have gone; a second message is harmless
        logger.warning("could not enqueue %d deliveries (%s)", len(ids), exc)
        unsent = ids
    if unsent:
        _forget_dispatch_lease(unsent)
    return len(ids) - len(unsent)


async def _kick_all(ids: list[str], redis_url: str) -> list[str]:
    """Send the messages in concurrent batches; return the ids that were not sent."""
    try:
        publisher = await _state.publisher(redis_url)
    except Exception as exc:
        logger.warning("could not reach the queue for %d deliveries (%s)", len(ids), exc)
        return ids
    for start in range(0, len(ids), KICK_BATCH):
        try:
            await _kick_batch(publisher, ids[start : start + KICK_BATCH])
        except Exception as exc:  # the queue is failing: keep this batch and the rest for the sweep
            logger.warning(
                "enqueued %d of %d deliveries; the sweep sends the rest (%s)",
                start,
                len(ids),
                exc.__cause__ or exc,
            )
            return ids[start:]
    return []


async def _kick_batch(publisher: AsyncBroker, ids: list[str]) -> None:
    """Send one deliver message per id: on Redis in one pipelined round trip."""
    kick_batch = getattr(publisher, "kick_batch", None)  # the Redis stream broker's
    if kick_batch is not None:
        # Performance: one kiq() per message cost an emit to 50 webhooks more CPU than the rest
        # of the request together (docs/performance.md).
        messages = [
            TaskiqMessage(
                task_id=publisher.id_generator(),
                task_name=DELIVER_TASK,
                labels={},
                labels_types={},
                args=[delivery_id],
                kwargs={},
            )
            for delivery_id in ids
        ]
        await kick_batch([publisher.formatter.dumps(m) for m in messages])
        return
    for delivery_id in ids:  # the in-process broker (embedded mode)
        await AsyncKicker(DELIVER_TASK, publisher, {}).kiq(delivery_id)


def _forget_dispatch_lease(delivery_ids: list[str]) -> None:
    from webhooks.models import Delivery

    try:
        Delivery.objects.filter(id__in=delivery_ids, status=Delivery.Status.PENDING).update(
            queued_until=None
        )
    except DatabaseError as exc:
        logger.warning(
            "could not clear the dispatch lease of %d deliveries: %s", len(delivery_ids), exc
        )


# The embedded mode (no REDIS_URL): a daemon thread in the web process plays the scheduler.
_dispatcher_lock = threading.Lock()
_dispatcher: threading.Thread | None = None


def start_embedded_dispatcher(**_signal_kwargs) -> bool:
    """Start the in-process sweep once per process when REDIS_URL is unset; return if it runs."""
    global _dispatcher
    if settings.REDIS_URL:
        return False
    with _dispatcher_lock:
        if _dispatcher is None or not _dispatcher.is_alive():
            _dispatcher = threading.Thread(
                target=_dispatch_forever, name="webhooks-dispatcher", daemon=True
            )
            _dispatcher.start()
            logger.info("embedded mode: in-process delivery dispatcher started")
    return True


def _dispatch_forever() -> None:
    from django.db import close_old_connections

    from webhooks.services.dispatch import dispatch_due

    while True:
        close_old_connections()
        try:
            dispatch_due()
        except Exception:
            logger.exception("embedded dispatch failed; trying again")
        finally:
            close_old_connections()
        time.sleep(app_settings.DISPATCH_INTERVAL_SECONDS)


def _reset_after_fork() -> None:
    # Threads don't survive a fork and a lock may have been held: start from scratch.
    global _state, _dispatcher_lock, _dispatcher
    _state, _dispatcher_lock, _dispatcher = _Loop(), threading.Lock(), None


os.register_at_fork(after_in_child=_reset_after_fork)

# The first request of an embedded web process starts the sweep (no thread at import time).
request_started.connect(start_embedded_dispatcher, dispatch_uid="webhooks-embedded-dispatcher")
