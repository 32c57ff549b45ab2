"""The retry policy: an attempt's outcome and number -> succeeded, retry at a time, or failed."""

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

SUCCEEDED = "succeeded"
RETRY = "retry"
FAILED = "failed"

GONE_REASON = "endpoint answered 410 Gone"
_RETRY_AFTER_STATUSES = (429, 503)
_NO_RETRY_ERRORS = ("blocked_destination", "webhook_disabled")
# RFC 9110 delay-seconds: ASCII digits only (str.isdigit takes "²" too, which float refuses).
_DELAY_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Decision:
    """What follows an attempt."""

    result: str  # SUCCEEDED, RETRY or FAILED
    next_attempt_at: datetime | None = None  # set when result is RETRY
    disable_reason: str = ""  # non-empty: disable the webhook with this reason
    exhausted: bool = False  # failed because the schedule ran out (auto-disable may follow)


def decide(
    *,
    status_code: int | None,
    error_kind: str,
    retry_after: str | None,
    attempt_number: int,
    automatic: bool,
    now: datetime,
    schedule: Sequence[float],
    jitter_ratio: float,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """Return what follows attempt number attempt_number (1-based) of a delivery.

    attempt_number counts the automatic attempts (manual ones don't move the schedule);
    automatic is False for test pings: when they fail, nothing is scheduled.
    """
    if status_code is not None and 200 <= status_code < 300:
        return Decision(SUCCEEDED)
    if status_code == 410:
        return Decision(FAILED, disable_reason=GONE_REASON)
    if error_kind in _NO_RETRY_ERRORS or not automatic:
        return Decision(FAILED)
    if attempt_number > len(schedule):
        return Decision(FAILED, exhausted=True)
    wait = jittered(schedule[attempt_number - 1], jitter_ratio, rand)
    if status_code in _RETRY_AFTER_STATUSES and retry_after:
        asked = retry_after_seconds(retry_after, now)
        if asked is not None:
            wait = max(wait, min(asked, max(schedule)))
    return Decision(RETRY, next_attempt_at=now + timedelta(seconds=wait))


def jittered(seconds: float, ratio: float, rand: Callable[[], float] = random.random) -> float:
    """Return seconds moved uniformly within +-ratio (rand() is in [0, 1))."""
    return seconds * (1 + ratio * (2 * rand() - 1))


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Return the wait a Retry-After value asks for (delay-seconds or an HTTP date), or None.

    Total: a receiver's bytes never make it raise. A value that is neither form (a negative
    number, "1e5", non-ASCII digits, a date past year 9999) asks for nothing: None.
    """
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)  # a huge one is inf, which the caller caps
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        # email.utils raises OverflowError for a year like 99999999999999999999.
        return None
