"""Name lookups of outgoing requests: cached per host, one in flight per host, none shared.

getaddrinfo can neither be interrupted nor tell a record's TTL, so:
- an answer is kept for WEBHOOKS["DNS_CACHE_SECONDS"] (a fixed bound: the TTL is not known
  here), and the egress policy checks its addresses at every use, cached or not;
- a host is looked up by one thread at a time: concurrent attempts to it wait for that lookup
  (single flight), each within its own deadline;
- each lookup runs on a thread started for it, so a name server that never answers for one name
  holds one thread for that name, never a slot of a shared pool another name needs;
- the lookups one webhook started that are still running are bounded
  (DNS_LOOKUPS_PER_WEBHOOK), and so are all of a process's (DNS_MAX_LOOKUPS_IN_FLIGHT): beyond,
  an attempt fails at once instead of starting another thread.
"""

import contextvars
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from webhooks.conf import app_settings

MAX_CACHED_HOSTS = 10_000  # beyond, the oldest answers are dropped first
_clock = time.monotonic  # a test may move it

# Who the running attempt's lookups count against (a webhook's id); the host when unset.
owner: contextvars.ContextVar[str] = contextvars.ContextVar("webhooks_dns_owner", default="")


class NameLookupFailed(OSError):
    """No address for the name now: the name server said so, or the lookup was not allowed."""


class NameLookupUnfinished(NameLookupFailed):
    """The name server did not answer within the attempt's time."""


@dataclass
class _Lookup:
    owner: str
    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    infos: list = field(default_factory=list)
    error: str = ""


_lock = threading.Lock()
_cache: dict[tuple, tuple[float, list]] = {}  # key -> (expires at, getaddrinfo's answer)
_running: dict[tuple, _Lookup] = {}
_per_owner: Counter[str] = Counter()
_generation = 0  # forget() moves it on: an answer a lookup started before brings is not kept


def getaddrinfo(host: str, port: int, family: int, timeout: float | None) -> list:
    """Return socket.getaddrinfo(host, port, family, SOCK_STREAM), cached and single-flight.

    Wait at most timeout seconds (None: as long as it takes); raise NameLookupUnfinished after
    that, and NameLookupFailed when the name does not resolve or no lookup may start now.
    """
    key = (host, port, family)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] > _clock():
            return cached[1]
        lookup = _running.get(key) or _start(key, owner.get() or host)
    if not lookup.done.wait(timeout):
        raise NameLookupUnfinished(f"the name lookup of {host} did not finish in time")
    if lookup.error:
        raise NameLookupFailed(f"could not resolve {host}: {lookup.error}")
    return lookup.infos


def _start(key: tuple, who: str) -> _Lookup:
    """Start a lookup on a thread of its own (the caller holds _lock)."""
    if _per_owner[who] >= app_settings.DNS_LOOKUPS_PER_WEBHOOK:
        raise NameLookupFailed(
            f"could not resolve {key[0]}: {_per_owner[who]} earlier name lookups of this webhook "
            "have not finished (DNS_LOOKUPS_PER_WEBHOOK)"
        )
    if len(_running) >= app_settings.DNS_MAX_LOOKUPS_IN_FLIGHT:
        raise NameLookupFailed(
            f"could not resolve {key[0]}: {len(_running)} name lookups of this process "
            "have not finished (DNS_MAX_LOOKUPS_IN_FLIGHT)"
        )
    lookup = _running[key] = _Lookup(who, _generation)
    _per_owner[who] += 1
    seconds = app_settings.DNS_CACHE_SECONDS
    threading.Thread(
        target=_run, args=(key, lookup, seconds), name=f"webhooks-dns-{key[0]}", daemon=True
    ).start()
    return lookup


def _run(key: tuple, lookup: _Lookup, cache_seconds: float) -> None:
    host, port, family = key
    try:
        lookup.infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except Exception as exc:  # gaierror, a name IDNA can't encode: whatever it is, say it
        lookup.error = str(exc) or type(exc).__name__
    with _lock:
        _running.pop(key, None)
        _per_owner[lookup.owner] -= 1
        if _per_owner[lookup.owner] <= 0:
            del _per_owner[lookup.owner]
        if lookup.infos and lookup.generation == _generation:  # failures are not kept
            _cache.pop(key, None)
            _cache[key] = (_clock() + cache_seconds, lookup.infos)
            while len(_cache) > MAX_CACHED_HOSTS:
                del _cache[next(iter(_cache))]
    lookup.done.set()


def forget() -> None:
    """Drop every cached answer, and those of the lookups still running (tests)."""
    global _generation
    with _lock:
        _cache.clear()
        _generation += 1


def _reset_after_fork() -> None:
    # A lookup thread does not survive a fork, and _lock may have been held by one.
    global _lock, _cache, _running, _per_owner
    _lock, _cache, _running, _per_owner = threading.Lock(), {}, {}, Counter()


os.register_at_fork(after_in_child=_reset_after_fork)
