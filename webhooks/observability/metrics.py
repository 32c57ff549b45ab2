"""Prometheus metrics recorded as deliveries happen, and the functions the delivery path calls.

Every process (web, worker, scheduler) records into prometheus-client's default registry. With
PROMETHEUS_MULTIPROC_DIR set in the environment before the process starts, the values go to
files in that directory, and /metrics adds up the files of every process on the machine.
"""

import os
import socket

from prometheus_client import Counter, Gauge, Histogram, values

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Containers sharing one directory (docker-compose.yml) each number their processes from 1:
    # name each process's files by host and pid, so two processes never write the same file.
    _HOST = socket.gethostname()
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

SUCCESS = "success"
HTTP_ERROR = "http_error"
TIMEOUT = "timeout"
CONNECT_ERROR = "connect_error"
BLOCKED = "blocked"
INTERNAL_ERROR = "internal_error"
OUTCOMES = (SUCCESS, HTTP_ERROR, TIMEOUT, CONNECT_ERROR, BLOCKED, INTERNAL_ERROR)

# DeliveryAttempt.error_kind -> outcome label. Anything not listed (a kind added later, or
# "internal_error" from the engine) counts as internal_error, never as a success.
_OUTCOME_OF_KIND = {
    "http_status": HTTP_ERROR,
    "timeout": TIMEOUT,
    "connection": CONNECT_ERROR,
    "dns": CONNECT_ERROR,
    "tls": CONNECT_ERROR,
    "invalid_response": CONNECT_ERROR,  # the endpoint answered something that is not HTTP
    "blocked_destination": BLOCKED,
    "webhook_disabled": BLOCKED,  # not sent: the policy stopped it, like a blocked address
}

# Seconds. An attempt is bounded by DELIVERY_TIMEOUT_SECONDS (10 by default).
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Seconds from emit to the first attempt: milliseconds when healthy, a sweep interval when a
# kick was lost, minutes when the workers can't keep up.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

ATTEMPTS = Counter(
    "webhooks_delivery_attempts",
    "Delivery attempts made, by outcome and trigger (auto, manual, recover, test).",
    ["outcome", "trigger"],
)
ATTEMPT_DURATION = Histogram(
    "webhooks_delivery_attempt_duration_seconds",
    "Wall-clock time of one delivery attempt (connect, send, read the answer).",
    ["outcome"],
    buckets=_DURATION_BUCKETS,
)
FIRST_ATTEMPT_LATENCY = Histogram(
    "webhooks_first_attempt_latency_seconds",
    "Time from an event's emit to the first attempt of each of its deliveries.",
    buckets=_LATENCY_BUCKETS,
)
EVENTS_EMITTED = Counter(
    "webhooks_events_emitted", "Events stored by emit (replays not counted), by type.", ["type"]
)
DELIVERIES_FINISHED = Counter(
    "webhooks_deliveries_finished",
    "Deliveries that reached a final status (succeeded or failed).",
    ["status"],
)
LAST_SWEEP = Gauge(
    "webhooks_sweep_last_run_timestamp_seconds",
    "Unix time at which the last sweep (expired leases, due deliveries) completed.",
    multiprocess_mode="max",
)


def outcome_of(error_kind: str, status_code: int | None) -> str:
    """Return the outcome label of an attempt from its error kind and HTTP status."""
    if error_kind:
        return _OUTCOME_OF_KIND.get(error_kind, INTERNAL_ERROR)
    if status_code is None:
        return INTERNAL_ERROR  # neither an answer nor an error: something broke in between
    return SUCCESS if 200 <= status_code < 300 else HTTP_ERROR


def attempt_recorded(outcome: str, trigger: str, duration_seconds: float) -> None:
    """Count one attempt and observe its duration."""
    ATTEMPTS.labels(outcome=outcome, trigger=trigger).inc()
    ATTEMPT_DURATION.labels(outcome=outcome).observe(max(duration_seconds, 0.0))


def first_attempt_latency(seconds: float) -> None:
    """Observe the time from emit to a delivery's first attempt."""
    FIRST_ATTEMPT_LATENCY.observe(max(seconds, 0.0))


def delivery_finished(status: str) -> None:
    """Count a delivery that reached its final status."""
    DELIVERIES_FINISHED.labels(status=status).inc()


def event_emitted(type: str) -> None:
    """Count an event stored by emit."""
    EVENTS_EMITTED.labels(type=type).inc()


def sweep_completed(at: float) -> None:
    """Record that a sweep completed at unix time at."""
    LAST_SWEEP.set(at)
