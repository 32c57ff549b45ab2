"""CPU per in-process emit with one matching webhook: `python -m tests.bench.emit_cpu`.

Creates the database wh_bench_emit on DATABASE_URL's server (dropped at the end), makes one
webhook, and times `emit_webhook_event()` of the config.deployed example with
`time.process_time`: this process's CPU only, so PostgreSQL's share is not in the number. The
wake-up through Redis is left out unless `--wake` (then REDIS_URL's server takes it); the rows,
the transaction and the on-commit callback are all real.
`--webhooks 50` measures a larger fan-out; `--profile [tottime]` prints where the CPU time went
instead.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time
import uuid

import django
import psycopg

DATABASE_NAME = "wh_bench_emit"


def _server_url(database: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    return base.rsplit("/", 1)[0] + "/" + database


def _recreate(drop_only: bool = False) -> None:
    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _setup() -> None:
    os.environ["DATABASE_URL"] = _server_url(DATABASE_NAME)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.bench.settings"
    django.setup()
    import logging

    from django.core.management import call_command

    logging.getLogger("webhooks").setLevel(logging.WARNING)  # one INFO line per emit otherwise
    call_command("migrate", verbosity=0, interactive=False)


def _run(events: int, runs: int, webhooks: int, profile: str | None, wake: bool) -> None:
    from webhooks.engine import wakeups
    from webhooks.events import EVENT_TYPES
    from webhooks.services import emit_webhook_event
    from webhooks.services.webhooks import create_webhook

    if not wake:
        wakeups.wake = lambda ids: len(ids)  # the Redis hand-off is not measured
    project = uuid.uuid4()
    for n in range(webhooks):
        create_webhook(project, name=f"bench {n}", url=f"http://127.0.0.1:9/hook/{n}")
    data = EVENT_TYPES["config.deployed"].example

    def emit_all(count: int) -> None:
        for _ in range(count):
            emit_webhook_event(project, "config.deployed", data)

    emit_all(200)  # warm-up: connection, compiled validators, statement caches
    if profile:
        profiler = cProfile.Profile(time.process_time)  # CPU, not waits on PostgreSQL
        profiler.runcall(emit_all, events)
        pstats.Stats(profiler).sort_stats(profile).print_stats(40)
        return
    cpu, wall = [], []
    for run in range(1, runs + 1):
        started, started_wall = time.process_time(), time.perf_counter()
        emit_all(events)
        cpu.append((time.process_time() - started) / events * 1000)
        wall.append((time.perf_counter() - started_wall) / events * 1000)
        print(f"run {run}: {cpu[-1]:.3f} ms CPU, {wall[-1]:.3f} ms wall per emit ({events} emits)")
    print(f"median of {runs}: {statistics.median(cpu):.3f} ms CPU per emit", end=" ")
    print(f"({statistics.median(wall):.3f} ms wall)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.emit_cpu", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="emits per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--webhooks", type=int, default=1, help="matching webhooks")
    parser.add_argument("--wake", action="store_true", help="wake the webhooks through Redis")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cumulative",
        choices=["cumulative", "tottime"],
        help="print a profile (CPU time) of one run instead, sorted so",
    )
    args = parser.parse_args()
    _recreate()
    try:
        _setup()
        _run(args.events, args.runs, args.webhooks, args.profile, args.wake)
    finally:
        from django.db import connections

        connections.close_all()
        _recreate(drop_only=True)


if __name__ == "__main__":
    main()
