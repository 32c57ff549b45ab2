"""CPU of what this tree adds to a delivery and an emit while tracing is off:
`python -m tests.bench.off_path` (microseconds per call, median of 5 runs).

The end-to-end figure (tests/bench/delivery_cpu.py) varies by more than 10% from run to run on a
shared machine; this times the added steps alone, on the objects a delivery really uses.
"""

import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from webhooks import signing, wire  # noqa: E402
from webhooks.engine import signals  # noqa: E402
from webhooks.models import Event, Webhook  # noqa: E402
from webhooks.observability import tracing  # noqa: E402


def _us(function, calls: int = 20000, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.process_time()
        for _ in range(calls):
            function()
        timings.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(timings)


def main() -> None:
    assert not tracing.enabled()
    now = timezone.now()
    webhook = Webhook(secret=signing.generate_secret(), signature_schemes=["v1"], headers={})
    webhook.url = "http://127.0.0.1/hook"
    trace_field = Event._meta.get_field("trace_context")
    schemes_field = Webhook._meta.get_field("signature_schemes")
    body = "x" * 1200

    @tracing.traced("bench")
    def decorated() -> None:
        return None

    def plain() -> None:
        return None

    steps = {
        "attempt_finished signal, no receiver": lambda: signals.attempt_finished.send(
            None, delivery=None, webhook=None, record=None
        ),
        "trace_context column read": lambda: trace_field.from_db_value("{}", None, connection),
        "signature_schemes column read": lambda: schemes_field.from_db_value(
            '["v1"]', None, connection
        ),
        "signing_material() over signing_secrets()": lambda: webhook.signing_material(now),
        "  signing_secrets() alone": lambda: webhook.signing_secrets(now),
        "request_headers(signing_keys=())": lambda: wire.request_headers(
            delivery_id="d", event_type="config.deployed", body=body, secrets=[webhook.secret]
        ),
        "emit: traced() wrapper": decorated,
        "  a plain call": plain,
        "emit: current_context() + span()": lambda: (tracing.current_context(), tracing.span("s")),
    }
    for name, function in steps.items():
        print(f"{name:45} {_us(function):7.2f} us CPU")


if __name__ == "__main__":
    main()
