"""CPU per engine statement, in-process: `python -m tests.bench.statement_cpu`.

Like lone_cpu.py (its database, wh_bench_lone, and the benchmark receiver), but by statement:
for each statement the engine runs while one thread emits events one at a time and runs a lane
for each (no lingering), this thread's CPU and its PostgreSQL session's (from
/proc/<pid>/schedstat, in nanoseconds, so a statement of a fraction of a millisecond shows); then
the record statement alone for batches of 1, 20 and 50 deliveries. Medians of --runs runs.
"""

import argparse
import collections
import statistics
import time
import uuid
from pathlib import Path

from tests.bench.lone_cpu import with_receiver_and_database


def _backend_ns() -> int:
    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _measured(costs: dict):
    """Wrap the engine's statement runner so each statement's CPU adds up in costs[text]."""
    from webhooks.engine import pgemit, pgsql, pgstore

    real = pgsql.run

    def run(sql: str, params):
        backend, client = _backend_ns(), time.thread_time_ns()
        rows = real(sql, params)
        spent = costs[" ".join(sql.split())[:60]]
        spent[0] += _backend_ns() - backend
        spent[1] += time.thread_time_ns() - client
        spent[2] += 1
        return rows

    for module in (pgsql, pgemit, pgstore):
        module.run = run


def _lone(events: int, port: int) -> dict:
    """Return {statement: (PostgreSQL ms, client ms, runs per delivery)} over events."""
    from django.conf import settings

    from webhooks.engine import lanes, wakeups
    from webhooks.events import EVENT_TYPES
    from webhooks.services import emit_webhook_event
    from webhooks.services.webhooks import create_webhook

    settings.WEBHOOKS = {**settings.WEBHOOKS, "LANE_LINGER_SECONDS": 0}
    wakeups.wake = lambda ids: len(ids)  # this thread runs the lane itself
    project = uuid.uuid4()
    webhook = create_webhook(project, name="lone", url=f"http://127.0.0.1:{port}/lone")
    data = EVENT_TYPES["config.deployed"].example
    costs = collections.defaultdict(lambda: [0, 0, 0])
    _measured(costs)
    for count in (100, events):  # warm-up: the connection, prepared statements, keep-alive
        costs.clear()
        for _ in range(count):
            emit_webhook_event(project, "config.deployed", data)
            assert lanes.run_lane(webhook.id) == 1
    return {k: (b / events / 1e6, c / events / 1e6, n / events) for k, (b, c, n) in costs.items()}


def _records(size: int, repeats: int) -> tuple[float, float]:
    """Return (PostgreSQL ms, client ms) of one record statement of size deliveries."""
    from django.db.models.functions import Now

    from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
    from webhooks.engine.pgstore import PgStore
    from webhooks.engine.sender import unsent
    from webhooks.models import Delivery

    hook = WebhookFactory()
    for _ in range(size):
        DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))
    store, backend, client = PgStore(), 0, 0
    for n in range(repeats + 10):
        Delivery.objects.filter(webhook=hook).update(status="delivering", locked_until=Now())
        deliveries = list(Delivery.objects.filter(webhook=hook))
        records = [_succeeded(unsent(d), d) for d in deliveries]
        started, cpu = _backend_ns(), time.thread_time_ns()
        store.record(records)
        if n >= 10:  # after the warm-up
            backend += _backend_ns() - started
            client += time.thread_time_ns() - cpu
    return backend / repeats / 1e6, client / repeats / 1e6


def _succeeded(given_back, delivery):
    """Return the record of a successful attempt of delivery, as the sender makes it."""
    import dataclasses

    from django.utils import timezone

    from webhooks.models import DeliveryAttempt

    attempt = DeliveryAttempt(
        delivery_id=delivery.pk,
        number=0,
        trigger="auto",
        started_at=timezone.now(),
        duration_ms=5,
        request_url="https://hooks.example.com/agenta",
        request_headers={"webhook-id": str(delivery.pk), "content-type": "application/json"},
        response_status=200,
        response_headers={"content-type": "text/plain", "server": "bench"},
        response_body="ok",
    )
    state = dataclasses.replace(
        given_back.state, status="succeeded", last_status_code=200, delivered_at=timezone.now()
    )
    return dataclasses.replace(given_back, state=state, attempt=attempt)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.statement_cpu", description=__doc__
    )
    parser.add_argument("--events", type=int, default=500, help="lone deliveries per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    args = parser.parse_args()
    with_receiver_and_database(lambda port: _report(args.events, args.runs, port))


def _report(events: int, runs: int, port: int) -> None:
    figures = [_lone(events, port) for _ in range(runs)]
    print("per lone delivery, by statement: PostgreSQL ms / client ms (runs per delivery)")
    for text in sorted(figures[0], key=lambda t: -figures[0][t][0]):
        backend = statistics.median(f[text][0] for f in figures if text in f)
        client = statistics.median(f[text][1] for f in figures if text in f)
        print(f"  {backend:.3f} / {client:.3f} (x{figures[0][text][2]:.1f})  {text}")
    totals = [sum(v[0] for v in f.values()) for f in figures]
    print(f"  PostgreSQL total per delivery: {statistics.median(totals):.3f} ms")
    for size in (1, 20, 50):
        records = [_records(size, 100) for _ in range(runs)]
        backend = statistics.median(r[0] for r in records)
        client = statistics.median(r[1] for r in records)
        print(
            f"record statement, {size} deliveries: "
            f"PostgreSQL {backend:.3f} ms / client {client:.3f} ms"
        )


if __name__ == "__main__":
    main()
