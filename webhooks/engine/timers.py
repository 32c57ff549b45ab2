"""Retry timers: a wake-up for a webhook at the due time of its retry, so it goes out on time.

On Redis, a sorted set of (webhook, due time) members scored by the due time in Redis's own
clock (TIME): a timer is set as a delay from now measured with the database's clock, so no
host's clock counts. Due times are rounded up to BUCKET_MS, so a webhook has one timer per
bucket however many of its retries fall in it, and none fires early. The scheduler polls the
set every TIMER_POLL_SECONDS and wakes the webhooks whose timers are due. The embedded mode
keeps its timers in this process (a heap on the monotonic clock). A lost timer (Redis flushed,
down, or the scheduler stopped) costs latency only: the sweep wakes due work anyway.
"""

import heapq
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable

import redis
from django.conf import settings

from webhooks.engine import wakeups

logger = logging.getLogger(__name__)

TIMERS_KEY = "webhooks:timers"
BUCKET_MS = 100
FIRE_BATCH = 500  # timers taken per poll

# KEYS: the timers; ARGV: the bucket (ms), then pairs of webhook id and delay (ms).
_SET_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local due = math.ceil((now + tonumber(ARGV[i + 1])) / bucket) * bucket
  redis.call('ZADD', KEYS[1], due, ARGV[i] .. ':' .. due)
end
return (#ARGV - 1) / 2
"""
# KEYS: the timers; ARGV: how many at most. Takes the due timers; returns their members.
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


class _Local:
    """The embedded mode's timers: (monotonic due time, webhook id), earliest first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.heap: list[tuple[float, str]] = []


_local = _Local()


def wake_after(webhook_id: uuid.UUID | str, delays: Iterable[float]) -> None:
    """Wake the webhook after each of these delays (seconds, by the database's clock)."""
    delays = sorted({max(0, int(d * 1000)) for d in delays})
    if not delays:
        return
    if not settings.REDIS_URL:
        with _local.lock:
            for delay in delays:
                heapq.heappush(_local.heap, (time.monotonic() + delay / 1000, str(webhook_id)))
        return
    args = [BUCKET_MS]
    for delay in delays:
        args += [str(webhook_id), delay]
    try:
        wakeups.redis_client().eval(_SET_SCRIPT, 1, TIMERS_KEY, *args)
    except Exception as exc:  # Redis is failing: the sweep wakes the retry, later
        logger.warning("retry timer of webhook %s not set (%s)", webhook_id, exc)


def wake_due() -> int:
    """Wake the webhooks whose timers are due; return how many timers fired."""
    if not settings.REDIS_URL:
        ids = _take_local()
    else:
        try:
            members = wakeups.redis_client().eval(_TAKE_SCRIPT, 1, TIMERS_KEY, FIRE_BATCH)
        except redis.RedisError as exc:  # down: the sweep says so, every run; no log flood here
            logger.debug("retry timers not read (%s)", exc)
            return 0
        ids = [member.decode().rsplit(":", 1)[0] for member in members]
    if ids:
        wakeups.wake(dict.fromkeys(ids))
    return len(ids)


def _take_local() -> list[str]:
    now, due = time.monotonic(), []
    with _local.lock:
        while _local.heap and _local.heap[0][0] <= now and len(due) < FIRE_BATCH:
            due.append(heapq.heappop(_local.heap)[1])
    return due


def _reset_after_fork() -> None:
    global _local
    _local = _Local()


os.register_at_fork(after_in_child=_reset_after_fork)
