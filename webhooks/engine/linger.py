"""Lingering: a lane with nothing more due waits a moment for its webhook's next wake-up.

Events that come one at a time (one thread emitting, a paced stream) would each take a lone
delivery's whole path: a queue message, a lane and a project slot taken with the claim, the
record, a claim that finds nothing and gives the lane back, and the waiting list read. A lane
whose webhook had work twice within LANE_LINGER_SECONDS, from an endpoint that answers within
that time, lingers instead. Before its next claim it sets the webhook's linger key in Redis;
while the key is set, the wake script (broker.py) puts each wake-up on the webhook's hand-off
list (one entry at most) instead of adding a queue message. After each batch the lane waits on
that list, and sets the key again for its next claim: an entry means a delivery was committed
since the lane's last claim, so it claims (all that came during its send, in one batch); none
within LANE_LINGER_SECONDS means none was, so it gives the lane back without claiming. The
batch it sent is recorded in that claim's statement, or in the one that gives the lane back
(engine/lanes.py): a lingering lone delivery is one statement and one Redis round trip, and its
outcome is written at most LANE_LINGER_SECONDS after its answer.

What it may cost others is bounded: at most LANE_LINGER_PER_PROCESS lanes of a process linger
at once (the rest of its threads stay free), one lane per webhook, never past the lane's time
slice, and a lane gives way (stops lingering, and gives its slot back when it has nothing due)
as soon as another webhook of its project waits for a slot. A batch that fills its limit stops
the lingering, so the next wake-up goes to the queue and another lane helps. Nothing is lost
when it fails: a wake-up that went to the queue instead (the key lapsed during a long send)
starts another lane, or waits in the waiting list for this one's release; a wake-up handed to a
lane that died is dropped, and the sweep wakes the webhook again; a lane that dies while it holds
a record leaves its deliveries claimed, and they are sent again once the sweep frees the dead
worker's leases (a duplicate, as after any crash between a send and its record, never a loss);
when Redis fails, the lane claims once more rather than trust that nothing came.
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

# The linger key outlives a wait by this much. A send that takes longer lets it lapse (its
# wake-ups go to the queue again); a worker that dies mid-linger swallows wake-ups this long.
_KEY_MARGIN_SECONDS = 1.0
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


class Listening:
    """A lane's hold on its webhook's wake-ups while it lingers; stop() whatever happens.

    The key is set (start) before a claim and again at each hand-off, so no hand-off since
    the lane's last claim means nothing came: the lane needs no claim to learn that.
    """

    def __init__(self, webhook_id: uuid.UUID, token: uuid.UUID) -> None:
        self.webhook_id, self.token = webhook_id, token
        self.key = wakeups.LINGER_KEY.format(webhook_id)
        self.handoff = wakeups.HANDOFF_KEY.format(webhook_id)
        self.active = False
        self.done = False  # gave way to another webhook of the project: no more in this run

    def give_way(self) -> None:
        """Stop lingering for the rest of the lane's run."""
        self.stop()
        self.done = True

    def start(self, per_delivery: float) -> bool:
        """Linger from now on if it is worth it and no other lane of the webhook does; say
        whether this lane lingers.

        Worth it: the webhook had work twice within LANE_LINGER_SECONDS here, its endpoint
        answered within that time (per_delivery: a slow one is better served by more lanes at
        once), and fewer than LANE_LINGER_PER_PROCESS lanes of this process linger.
        """
        seconds = app_settings.LANE_LINGER_SECONDS
        if per_delivery > seconds:
            self.stop()
            return False
        if self.active or self.done or seconds <= 0 or not settings.REDIS_URL:
            return self.active
        with _state.lock:
            before, last = _state.arrivals.get(self.webhook_id, (0.0, 0.0))
            if last - before > seconds or _state.lingering >= app_settings.LANE_LINGER_PER_PROCESS:
                return False  # work comes seldom (a deploy now and then), or enough threads linger
            _state.lingering += 1
        self.active = True
        try:
            if wakeups.redis_client().set(self.key, self.token.hex, px=_key_ms(), nx=True):
                return True
        except redis.RedisError as exc:
            logger.warning("could not linger for webhook %s (%s)", self.webhook_id, exc)
        self._leave()
        return False

    def wait(self, until: float) -> bool:
        """Wait for a wake-up until the monotonic time until, at most LANE_LINGER_SECONDS;
        return whether to claim. Still active after, unless nothing came (or Redis failed:
        then claim, as one may have come)."""
        seconds = min(app_settings.LANE_LINGER_SECONDS, until - time.monotonic())
        try:
            if seconds >= 0.001 and self._take(seconds):
                return True
            return self.stop() > 0  # one may have come between the wait's end and the stop
        except redis.RedisError as exc:
            return self._claim_anyway(exc)

    def _take(self, seconds: float) -> bool:
        """Take the hand-off, waiting up to seconds for it, and set the key again, armed for the
        next claim, in one round trip; say whether there was one."""
        with wakeups.redis_client().pipeline(transaction=False) as pipe:
            pipe.blpop([self.handoff], timeout=seconds)
            pipe.set(self.key, self.token.hex, px=_key_ms())
            handed, _ = pipe.execute()
        return handed is not None

    def _claim_anyway(self, exc: redis.RedisError) -> bool:
        """After Redis failed: stop lingering, and claim once more, as a wake-up may have come."""
        logger.warning(
            "lingering for webhook %s failed (%s); claiming once more", self.webhook_id, exc
        )
        self._leave()
        return True

    def stop(self) -> int:
        """Stop lingering; return how many wake-ups were handed over meanwhile."""
        if not self.active:
            return 0
        try:
            return wakeups.redis_client().eval(
                _STOP_SCRIPT, 2, self.key, self.handoff, self.token.hex
            )
        except redis.RedisError as exc:  # the key's lifetime ends it
            logger.warning("could not stop lingering for webhook %s (%s)", self.webhook_id, exc)
            return 1  # claim once more: one may have come
        finally:
            self._leave()

    def _leave(self) -> None:
        if self.active:
            self.active = False
            with _state.lock:
                _state.lingering -= 1


def _key_ms() -> int:
    """The linger key's lifetime: past the wait, and a send's usual time, then Redis drops it."""
    return int((app_settings.LANE_LINGER_SECONDS + _KEY_MARGIN_SECONDS) * 1000)


def _reset_after_fork() -> None:
    global _state
    _state = _Process()


os.register_at_fork(after_in_child=_reset_after_fork)
