"""Wake-ups: "webhook W has due work", sent to the workers through the queue.

One message per webhook, not per delivery: on Redis a wake-up is only added when none is
waiting for that webhook already (a key with a lease, cleared by the worker that takes the
message, before it claims), and a lane lingering for the webhook is handed the wake-up
instead of the queue (engine/linger.py). The wake-ups go straight to the stream on the calling
thread's own Redis connection (broker.WakeLine), in taskiq's message format; only the
embedded mode (no Redis) kicks its in-process broker, from one daemon thread running an asyncio
loop (Taskiq has no synchronous kiq()). A fork gets fresh connections and a fresh loop. Nothing here
raises to the caller: a lost wake-up costs latency, never a delivery; the sweep wakes due work
again. WebhooksConfig.ready() connects defer_wakes and send_deferred_wakes to the request
signals, and registers the tasks.
"""

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from functools import partial

import orjson
import redis
from django.conf import settings
from django.db import transaction
from taskiq.kicker import AsyncKicker

from webhooks.broker import WakeLine, broker
from webhooks.conf import app_settings

logger = logging.getLogger(__name__)

LANE_TASK = "webhooks.lane"
WAKE_KEY = "webhooks:wake:{}"  # set while a wake-up for the webhook waits in the stream
# Set while a lane of the webhook lingers (engine/linger.py): a wake-up goes to its hand-off list.
LINGER_KEY = "webhooks:linger:{}"
HANDOFF_KEY = "webhooks:handoff:{}"
HANDOFF_LIFETIME_MS = 5000  # a hand-off no lane took (its worker died) is dropped after this
KICK_BATCH = 500  # wake-ups per pipelined round trip to Redis


class _Process:
    """This process's Redis clients, and the event loop of the in-process broker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid: int | None = None  # of the loop
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.started = False  # the in-process broker, on this loop
        self.clients: dict[str, redis.Redis] = {}
        self.lines = threading.local()  # .line: each thread's WakeLine, .url: its Redis

    def get(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            alive = self.thread is not None and self.thread.is_alive()
            if self.loop is None or self.pid != os.getpid() or not alive:
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(
                    target=self.loop.run_forever, name="webhooks-enqueue", daemon=True
                )
                self.thread.start()
                self.pid, self.started = os.getpid(), False
            return self.loop

    def client(self, redis_url: str) -> redis.Redis:
        """Return this process's synchronous Redis client (thread-safe: a connection pool)."""
        with self.lock:
            if redis_url not in self.clients:
                timeout = app_settings.ENQUEUE_TIMEOUT_SECONDS
                self.clients[redis_url] = redis.Redis.from_url(
                    redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
                )
            return self.clients[redis_url]

    def line(self, redis_url: str) -> WakeLine:
        """Return this thread's own connection for wake-ups to the Redis at redis_url."""
        lines = self.lines
        if getattr(lines, "url", None) != redis_url:
            lines.line, lines.url = WakeLine(self.client(redis_url)), redis_url
        return lines.line


_state = _Process()


def wake_after_commit(webhook_ids: Iterable) -> None:
    """Wake these webhooks once the current transaction commits (now, outside one).

    Inside a web request the wake-up waits until the response has been sent (request_finished):
    workers starting at once otherwise slow down the very response that caused them.
    """
    ids = list(dict.fromkeys(str(i) for i in webhook_ids))
    if ids:
        transaction.on_commit(partial(_wake_after_response, ids), robust=True)


_request = threading.local()  # .deferred: the ids to wake once this thread's response is out


def _wake_after_response(ids: list[str]) -> None:
    deferred = getattr(_request, "deferred", None)
    if deferred is None:
        wake(ids)
    else:
        deferred.extend(ids)


def defer_wakes(**_signal_kwargs) -> None:
    """Hold this thread's wake-ups until its response is out (on request_started)."""
    _request.deferred = []


def send_deferred_wakes(**_signal_kwargs) -> None:
    """Send the wake-ups held during the request (on request_finished)."""
    ids, _request.deferred = getattr(_request, "deferred", None), None
    if ids:
        wake(list(dict.fromkeys(ids)))


def wake(webhook_ids: Iterable[uuid.UUID | str], force: bool = False) -> int:
    """Send a wake-up for each webhook that has none waiting; return how many went; never raise.

    force: send one even if one seems to wait (its key is set), as after a worker died with
    wake-ups it had read but not run.
    """
    ids = [str(i) for i in webhook_ids]
    if not ids:
        return 0
    if not settings.REDIS_URL:
        return _wake_in_process(ids)
    line = _state.line(settings.REDIS_URL)
    lease_ms, sent = int(app_settings.WAKE_LEASE_SECONDS * 1000), 0
    for start in range(0, len(ids), KICK_BATCH):
        batch = ids[start : start + KICK_BATCH]
        try:
            if force:
                line.client.delete(*(WAKE_KEY.format(i) for i in batch))
            messages = {_keys(i): _message(i) for i in batch}
            sent += line.add_wake_ups(messages, lease_ms, HANDOFF_LIFETIME_MS)
        except Exception as exc:  # the queue is failing: the sweep wakes the rest
            logger.warning(
                "woke %d of %d webhooks; the sweep wakes the rest (%s)", start, len(ids), exc
            )
            break
    return sent


def _keys(webhook_id: str) -> tuple[str, str, str]:
    return tuple(key.format(webhook_id) for key in (WAKE_KEY, LINGER_KEY, HANDOFF_KEY))


def redis_client() -> redis.Redis:
    """Return this process's synchronous client of the queue's Redis (REDIS_URL)."""
    return _state.client(settings.REDIS_URL)


def _message(webhook_id: str) -> bytes:
    """Return the stream entry that runs a lane of webhook_id, as taskiq's formatter reads it
    (written here: its pydantic model cost a tenth of a wake-up's CPU)."""
    return orjson.dumps(
        {
            "task_id": broker.id_generator(),
            "task_name": LANE_TASK,
            "labels": {},
            "labels_types": {},
            "args": [webhook_id],
            "kwargs": {},
        }
    )


def _wake_in_process(ids: list[str]) -> int:
    """The embedded mode: kick the lanes on the in-process broker, from its event loop."""
    try:
        future = asyncio.run_coroutine_threadsafe(_kick_all(ids), _state.get())
        return future.result(timeout=app_settings.ENQUEUE_TIMEOUT_SECONDS)
    except Exception as exc:  # timed out: some may have gone; a second wake-up is harmless
        logger.warning("could not wake %d webhooks (%s); the sweep will", len(ids), exc)
        return 0


async def _kick_all(ids: list[str]) -> int:
    if not _state.started:  # its startup event starts the embedded sweep (apps.py)
        await broker.startup()
        _state.started = True
    for webhook_id in ids:
        await AsyncKicker(LANE_TASK, broker, {}).kiq(webhook_id)
    return len(ids)


def taken(webhook_id: str) -> None:
    """Say that the wake-up for webhook_id was taken: the next one must be sent again."""
    if not settings.REDIS_URL:
        return
    try:
        _state.client(settings.REDIS_URL).delete(WAKE_KEY.format(webhook_id))
    except redis.RedisError as exc:  # the key's lease ends it; the sweep wakes the webhook
        logger.warning("could not clear the wake-up of webhook %s (%s)", webhook_id, exc)


def _reset_after_fork() -> None:
    # Threads don't survive a fork and a lock may have been held: start from scratch.
    global _state
    _state = _Process()


os.register_at_fork(after_in_child=_reset_after_fork)
