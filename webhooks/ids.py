"""Time-sortable UUIDv7 primary keys, so history pages by id in creation order."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = [0, 0]  # [unix ms, counter] of the last id made by this process


def uuid7() -> uuid.UUID:
    """Return a new RFC 9562 UUIDv7, monotonic within this process."""
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last[0]:
            _last[0], _last[1] = now_ms, int.from_bytes(os.urandom(2)) & 0x3FF
        else:
            # Same millisecond (or the clock stepped back): bump the 12-bit counter.
            _last[1] += 1
            if _last[1] > 0xFFF:
                _last[0], _last[1] = _last[0] + 1, 0
        ms, counter = _last
    rand = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
