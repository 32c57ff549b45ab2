"""Lingering: a lane with nothing more due waits a moment for its webhook's next wake-up.

Events that come one at a time (one thread emitting, a paced stream) would each take a lone
delivery's whole path: a queue message, a lane and a project slot taken, the claim, the record,
the lane given back and the waiting list read. A lane whose webhook had work twice within
LANE_LINGER_SECONDS keeps its lane instead (claim_next with keep) and waits that long in Redis:
it sets the webhook's linger key and blocks on its hand-off list, and the wake script
(broker.py) gives a wake-up to the list, deleting the key, instead of adding a queue message.
The lane then claims as it would after a batch; with nothing handed over it gives the lane back.

What it may cost others is bounded: at most LANE_LINGER_PER_PROCESS lanes of a process linger
at once (the rest of its threads stay free), never past the lane's time slice, and claim_next
keeps no lane while another webhook of its project waits for a slot. Nothing is lost when it
fails: a wake-up handed to a lane that died is dropped, and the sweep wakes the webhook again
(within DISPATCH_INTERVAL_SECONDS, once the linger key's short lifetime is over); when Redis
fails, the lane claims once more rather than trust that nothing came.
"""

import logging
import os
import threading
import time
import uuid

import redis
from django.conf import settings

from webhooks.conf import app_settings
from webhooks.engine import wakeups

logger = logging.getLogger(__name__)

_KEY_MARGIN_SECONDS = 0.25  # the linger key outlives the wait by this much, then Redis drops it
_REMEMBERED = 4096  # webhooks whose last arrivals a process keeps

# KEYS: the linger key, the hand-off list; ARGV: this lane's token. Stops lingering (if the key
# is still this lane's) and says whether a wake-up was handed over meanwhile.
_STOP_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local handed = redis.call('LLEN', KEYS[2])
if handed > 0 then redis.call('DEL', KEYS[2]) end
return handed
"""


class _Process:
    """This process's lingering lanes, and when each webhook last had work here."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lingering = 0
        self.arrivals: dict[uuid.UUID, tuple[float, float]] = {}  # the last two, monotonic


_state = _Process()


def found_work(webhook_id: uuid.UUID) -> None:
    """Note that a lane of webhook_id found work now."""
    now = time.monotonic()
    with _state.lock:
        arrivals = _state.arrivals
        if len(arrivals) >= _REMEMBERED and webhook_id not in arrivals:
            arrivals.clear()  # a cache: forgetting only costs a lane that does not linger
        arrivals[webhook_id] = (arrivals.get(webhook_id, (0.0, 0.0))[1], now)


def begin(webhook_id: uuid.UUID) -> bool:
    """Take one of this process's lingering places if lingering is worth it; say whether."""
    seconds = app_settings.LANE_LINGER_SECONDS
    if seconds <= 0 or not settings.REDIS_URL:
        return False
    with _state.lock:
        before, last = _state.arrivals.get(webhook_id, (0.0, 0.0))
        if last - before > seconds or _state.lingering >= app_settings.LANE_LINGER_PER_PROCESS:
            return False  # work comes seldom (a deploy now and then), or enough threads linger
        _state.lingering += 1
        return True


def end() -> None:
    """Give back the lingering place begin() took."""
    with _state.lock:
        _state.lingering -= 1


def wait(webhook_id: uuid.UUID, token: uuid.UUID, until: float) -> bool | None:
    """Wait for a wake-up of webhook_id until the monotonic time until, at most
    LANE_LINGER_SECONDS; return whether one came, or None if Redis failed (one may have)."""
    seconds = min(app_settings.LANE_LINGER_SECONDS, until - time.monotonic())
    if seconds < 0.001:
        return False
    linger, handoff = wakeups.LINGER_KEY.format(webhook_id), wakeups.HANDOFF_KEY.format(webhook_id)
    client = wakeups.redis_client()
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.set(linger, token.hex, px=int((seconds + _KEY_MARGIN_SECONDS) * 1000))
            pipe.blpop([handoff], timeout=seconds)
            _, handed = pipe.execute()
        # Handed over: the waker deleted the key. Timed out: stop, unless one came meanwhile.
        return bool(handed) or bool(client.eval(_STOP_SCRIPT, 2, linger, handoff, token.hex))
    except redis.RedisError as exc:
        logger.warning("lingering for webhook %s failed (%s); claiming once more", webhook_id, exc)
        return None


def _reset_after_fork() -> None:
    global _state
    _state = _Process()


os.register_at_fork(after_in_child=_reset_after_fork)
