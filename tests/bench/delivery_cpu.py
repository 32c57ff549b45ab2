"""CPU per in-process delivery, with tracing off or on: `python -m tests.bench.delivery_cpu`.

Creates the database wh_bench_delivery on DATABASE_URL's server (dropped at the end), starts the
benchmark receiver (tests/bench/receiver.py) in its own process, emits `--events` config.deployed
events to one webhook, then sends them all with `lanes.run_lane()` in this process and times that
with `time.process_time`: this process's CPU (every thread: signing, HTTP, the claim and record
statements' Python side, spans and their export), not PostgreSQL's or the receiver's. The emits
are timed too. `--tracing` sets OTEL_EXPORTER_OTLP_TRACES_ENDPOINT to the receiver (which answers
200 to the OTLP POSTs) before Django starts, so spans are made, batched, encoded and sent as in
production; the exporter is flushed inside the timed window. Wake-ups through Redis are left out.
Uses only the service's public functions, so it also runs against an older tree (PYTHONPATH).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

import django
import psycopg

DATABASE_NAME = "wh_bench_delivery"


def _server_url(database: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    return base.rsplit("/", 1)[0] + "/" + database


def _recreate(drop_only: bool = False) -> None:
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flush() -> None:
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush()


def _run(events: int, runs: int, port: int) -> None:
    from django.core.management import call_command

    from webhooks.engine import lanes, wakeups
    from webhooks.events import EVENT_TYPES
    from webhooks.models import Delivery
    from webhooks.services import emit_webhook_event
    from webhooks.services.webhooks import create_webhook

    call_command("migrate", verbosity=0, interactive=False)
    wakeups.wake = lambda ids: len(ids)  # the Redis hand-off is not measured
    project = uuid.uuid4()
    webhook = create_webhook(project, name="bench", url=f"http://127.0.0.1:{port}/hook")
    data = EVENT_TYPES["config.deployed"].example

    def emit(count: int) -> None:
        for _ in range(count):
            emit_webhook_event(project, "config.deployed", data)

    def deliver_all() -> int:
        sent = 0
        while Delivery.objects.filter(status="pending").exists():
            sent += lanes.run_lane(webhook.id)
        return sent

    emit(100)  # warm-up: connections, statement caches, the client's keep-alive connection
    deliver_all()
    _flush()
    emit_cpu, delivery_cpu = [], []
    for run in range(1, runs + 1):
        started = time.process_time()
        emit(events)
        _flush()
        emit_cpu.append((time.process_time() - started) / events * 1000)
        started = time.process_time()
        sent = deliver_all()
        _flush()
        delivery_cpu.append((time.process_time() - started) / sent * 1000)
        print(f"run {run}: {emit_cpu[-1]:.3f} ms CPU per emit, {delivery_cpu[-1]:.3f} per delivery")
    print(
        f"median of {runs}: {statistics.median(emit_cpu):.3f} ms CPU per emit, "
        f"{statistics.median(delivery_cpu):.3f} ms CPU per delivery"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.delivery_cpu", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events (deliveries) per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--tracing", action="store_true", help="OTLP export to the receiver")
    args = parser.parse_args()
    port = _free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.receiver", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout.readline().strip() == "ready"
    if args.tracing:
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://127.0.0.1:{port}/v1/traces"
    else:
        os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    _recreate()
    try:
        os.environ["DATABASE_URL"] = _server_url(DATABASE_NAME)
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.bench.settings"
        django.setup()
        import logging

        logging.getLogger("webhooks").setLevel(logging.WARNING)  # a line per attempt otherwise
        _run(args.events, args.runs, port)
    finally:
        from django.db import connections

        connections.close_all()
        _recreate(drop_only=True)
        if args.tracing:
            from opentelemetry import trace

            trace.get_tracer_provider().shutdown()  # while the receiver still takes exports
        receiver.terminate()
        receiver.wait(10)


if __name__ == "__main__":
    main()
