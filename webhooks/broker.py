"""The Taskiq broker: a Redis stream, or an in-process queue when REDIS_URL is unset."""

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from django.conf import settings
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker, BrokerMessage, InMemoryBroker
from taskiq_redis import RedisStreamBroker

logger = logging.getLogger(__name__)

STREAM = "webhooks:wakeups"  # the wake-ups of endpoint lanes
# The stream's name before 0.3 (it carried wake-ups then too): workers still read it, so a rolling
# deploy loses none that old web processes add (docs/operations.md, "Upgrading"). Drop it in 0.4.
LEGACY_STREAMS = ("webhooks:deliveries",)
CONSUMER_GROUP = "webhooks"
# Messages fetched per read: about one per worker thread, so none waits long unacknowledged.
XREAD_COUNT = 16
XREAD_BLOCK_MS = 2000
# A message unacknowledged this long is taken over by another worker (its worker died). Far
# above the delivery timeout plus queueing; the lease sweep in PostgreSQL recovers sooner.
IDLE_TIMEOUT_MS = 60 * 60 * 1000
TAKEOVER_INTERVAL_SECONDS = 60  # how often a worker looks for such messages
# Approximate cap on stream entries; far above any backlog (the database is the truth anyway).
STREAM_MAXLEN = 100_000
SOCKET_CONNECT_TIMEOUT_SECONDS = 5
SOCKET_TIMEOUT_SECONDS = 30  # above XREAD_BLOCK_MS, so a blocking read is never cut short
RECONNECT_DELAY_SECONDS = 1.0
# In-process mode: threads that run deliveries inside the web process.
EMBEDDED_THREADS = 4


# KEYS: the webhook's wake key, the stream, its lingering lane's key, that lane's hand-off list;
# ARGV: the key's lease (ms), the stream's cap, the message, the hand-off's lifetime (ms). While
# a lane lingers for the webhook (engine/linger.py) its list gets the wake-up (one entry is
# enough: the lane's next claim finds all that is due); otherwise the message is added, only if
# no wake-up for the webhook is waiting already.
_WAKE_SCRIPT = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RPUSH', KEYS[4], '1')
  redis.call('LTRIM', KEYS[4], 0, 0)
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  return 1
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'data', ARGV[3])
  return 1
end
return 0
"""
_WAKE_SHA = hashlib.sha1(_WAKE_SCRIPT.encode()).hexdigest()  # noqa: S324 (Redis names scripts so)


# Per webhook, the keys the script takes besides the stream: its wake key, its lingering lane's
# key and that lane's hand-off list (named in engine/wakeups.py).
WakeKeys = tuple[str, str, str]


class WakeLine:
    """One thread's own connection for wake-ups, beside the client's pool.

    add_wake_ups sends the wake script for every webhook in one pipelined round trip, from the
    calling thread: an emit's wake-up costs no hop to an event loop. It writes the commands
    itself and skips redis-py's pool, retries and argument encoding, which cost an emit more CPU
    than the round trip (docs/performance.md, "the lean wake-up"). The check and the add are one
    script, so two processes waking the same webhook at once add one message.
    """

    def __init__(self, client: SyncRedis) -> None:
        pool = client.connection_pool
        self.client = client  # for the rest: loading the script into a new or flushed server
        self.connection = pool.connection_class(**pool.connection_kwargs)

    def add_wake_ups(self, messages: dict[WakeKeys, bytes], lease_ms: int, handoff_ms: int) -> int:
        """Hand each wake-up to its webhook's lingering lane, or add its message if its wake key
        is not set yet (setting it); return how many were handed over or added."""
        packed = b"".join(
            _wake_command(keys, message, lease_ms, handoff_ms) for keys, message in messages.items()
        )
        try:
            return sum(self._exchange(packed, len(messages)))
        except NoScriptError:  # a new or flushed server: load the script, then run it again
            self.client.script_load(_WAKE_SCRIPT)
            return sum(self._exchange(packed, len(messages)))

    def _exchange(self, packed: bytes, replies: int) -> list:
        """Send the commands and read every reply, raising the first error reply after all.

        A connection that worked before and fails now (Redis restarted, or closed it while idle)
        is opened again once; the scripts are safe to run twice (a wake key set, or a hand-off
        list trimmed to one entry, by the first run makes the second add nothing more).
        """
        reused = self.connection.is_connected
        try:
            self.connection.send_packed_command([packed], check_health=False)
            answers, error = [], None
            for _ in range(replies):
                try:
                    answers.append(self.connection.read_response())
                except ResponseError as exc:  # the other replies are still read: stay in step
                    error = error or exc
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self.connection.disconnect()  # in an unknown state: start afresh next time
            if not reused:
                raise
            return self._exchange(packed, replies)
        if error is not None:
            raise error
        return answers


def _wake_command(keys: WakeKeys, message: bytes, lease_ms: int, handoff_ms: int) -> bytes:
    # EVALSHA: redis-py's Script objects would ask SCRIPT EXISTS first, another round trip.
    wake, linger, handoff = keys
    arguments = (wake, STREAM, linger, handoff, lease_ms, STREAM_MAXLEN, message, handoff_ms)
    return _WAKE_PREFIX + b"".join(_bulk(argument) for argument in arguments)


def _bulk(value: str | int | bytes) -> bytes:
    """Return value as one argument of a command in Redis's protocol (RESP)."""
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


# The wake command's arguments before its keys: 11 in all, the script's name, its 4 keys.
_WAKE_PREFIX = b"*11\r\n" + b"".join(_bulk(part) for part in (b"EVALSHA", _WAKE_SHA, 4))


class DeliveryStreamBroker(RedisStreamBroker):
    """A RedisStreamBroker that keeps listening through Redis restarts and data loss.

    Without this, a Redis outage or a FLUSHALL (which drops the consumer group) ends the
    worker's listen loop with an error; here it waits, declares the group again and goes on.
    """

    _client: Redis | None = None

    def client(self) -> Redis:
        """Return the one Redis client that every kick and ack of this broker shares.

        Performance: taskiq-redis builds a Redis object per kick and per ack, which cost a
        quarter of an emit's CPU with 50 webhooks (docs/performance.md). Commands still take
        their own connection from the pool, so concurrent ones don't wait for each other.
        """
        if self._client is None:
            self._client = Redis(connection_pool=self.connection_pool)
        return self._client

    async def kick(self, message: BrokerMessage) -> None:
        queue_name = message.labels.get("queue_name") or self.queue_name
        await self.client().xadd(
            queue_name, {b"data": message.message}, maxlen=self.maxlen, approximate=self.approximate
        )

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def ack_or_log() -> None:
            # An unacknowledged message is only redelivered later; the claim makes that a no-op.
            try:
                await self.client().xack(queue_name, self.consumer_group_name, id)
            except RedisError as exc:
                logger.warning("could not acknowledge stream message %s (%s)", id, exc)

        return ack_or_log

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                async for message in self._read():
                    yield message
            except (RedisConnectionError, RedisTimeoutError, ResponseError) as exc:
                logger.warning(
                    "Redis stream %s unavailable (%s); retrying in %.0f s",
                    self.queue_name,
                    exc,
                    RECONNECT_DELAY_SECONDS,
                )
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                try:
                    await self._declare_consumer_group()
                except (RedisConnectionError, RedisTimeoutError) as declare_exc:
                    logger.debug("consumer group not declared yet: %s", declare_exc)

    async def _read(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield new messages; every TAKEOVER_INTERVAL_SECONDS, also a dead worker's old ones.

        taskiq-redis's listen() looks for unacknowledged messages (a lock, XAUTOCLAIM, the
        lock's release: two more round trips) after every read, though only those idle for
        IDLE_TIMEOUT_MS (an hour) are taken over: once a minute finds them as well.
        """
        client, takeover_at = self.client(), time.monotonic() + TAKEOVER_INTERVAL_SECONDS
        streams = dict.fromkeys([self.queue_name, *self.additional_streams], ">")
        while True:
            fetched = await client.xreadgroup(
                self.consumer_group_name,
                self.consumer_name,
                streams,
                block=self.block,
                count=self.count,
            )
            for stream, entries in fetched or []:
                for entry_id, fields in entries:
                    yield self._ackable(stream, entry_id, fields)
            if time.monotonic() >= takeover_at:
                takeover_at = time.monotonic() + TAKEOVER_INTERVAL_SECONDS
                taken_over = await client.xautoclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                for entry_id, fields in taken_over[1]:
                    yield self._ackable(self.queue_name, entry_id, fields)

    def _ackable(self, stream, entry_id, fields) -> AckableMessage:
        return AckableMessage(data=fields[b"data"], ack=self._ack_generator(entry_id, stream))


def make_broker(redis_url: str, socket_timeout: float = SOCKET_TIMEOUT_SECONDS) -> AsyncBroker:
    """Return a broker for redis_url, or an in-process broker when it is empty."""
    if not redis_url:
        return InMemoryBroker(sync_tasks_pool_size=EMBEDDED_THREADS, max_stored_results=1)
    return DeliveryStreamBroker(
        redis_url,
        queue_name=STREAM,
        consumer_group_name=CONSUMER_GROUP,
        # "0": a group created after messages were added still reads them.
        consumer_id="0",
        xread_count=XREAD_COUNT,
        xread_block=XREAD_BLOCK_MS,
        idle_timeout=IDLE_TIMEOUT_MS,
        maxlen=STREAM_MAXLEN,
        approximate=True,
        additional_streams=dict.fromkeys(LEGACY_STREAMS, "0"),
        socket_connect_timeout=SOCKET_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=socket_timeout,
    )


broker = make_broker(settings.REDIS_URL)
