"""CPU per lone delivery, in-process: `python -m tests.bench.lone_cpu`.

Creates the database wh_bench_lone on DATABASE_URL's server (dropped at the end) and starts the
benchmark receiver; then, one at a time, emits an event to one webhook and runs a lane for it in
this thread, as the lane task does when a wake-up arrives (close_old_connections() around it):
take the lane and claim, send, record, find nothing more and give the lane back. Reported per
delivery: this thread's CPU in the emit and in the lane, and the CPU of this process's
PostgreSQL session (from /proc) during each, so the numbers hold on a busy machine. The wake-up
through Redis is left out. `--profile` prints where the lane's CPU went instead.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import django
import psycopg

DATABASE_NAME = "wh_bench_lone"
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


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

    logging.getLogger("webhooks").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)


def _session_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(stat[11]) + int(stat[12])


def _run(events: int, runs: int, port: int, profile: bool) -> None:
    from django.db import close_old_connections, connection

    from webhooks.engine import lanes, wakeups
    from webhooks.events import EVENT_TYPES
    from webhooks.services import emit_webhook_event
    from webhooks.services.webhooks import create_webhook

    wakeups.wake = lambda ids: len(ids)  # this thread runs the lane itself
    project = uuid.uuid4()
    webhook = create_webhook(project, name="lone", url=f"http://127.0.0.1:{port}/lone")
    data = EVENT_TYPES["config.deployed"].example

    def one(spent: dict[str, float]) -> None:
        connection.ensure_connection()  # replaced after CONN_MAX_AGE, as in a worker
        pid = connection.connection.info.backend_pid
        cpu, ticks = time.thread_time(), _session_ticks(pid)
        emit_webhook_event(project, "config.deployed", data)
        cpu_emit, ticks_emit = time.thread_time(), _session_ticks(pid)
        close_old_connections()  # as the lane task does around each lane
        assert lanes.run_lane(webhook.id) == 1
        close_old_connections()
        cpu_lane, ticks_lane = time.thread_time(), _session_ticks(pid)
        spent["emit"] += cpu_emit - cpu
        spent["lane"] += cpu_lane - cpu_emit
        spent["pg emit"] += (ticks_emit - ticks) / _TICKS_PER_SECOND
        spent["pg lane"] += (ticks_lane - ticks_emit) / _TICKS_PER_SECOND

    warm = dict.fromkeys(("emit", "lane", "pg emit", "pg lane"), 0.0)
    for _ in range(100):  # connection, prepared statements, the receiver's keep-alive
        one(warm)
    if profile:
        profiler = cProfile.Profile(time.thread_time)
        profiler.runcall(lambda: [one(dict(warm)) for _ in range(events)])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    results = []
    for run in range(1, runs + 1):
        spent = dict.fromkeys(warm, 0.0)
        started = time.perf_counter()
        for _ in range(events):
            one(spent)
        wall = time.perf_counter() - started
        per = {k: v / events * 1000 for k, v in spent.items()}
        results.append(per)
        print(
            f"run {run}: lane {per['lane']:.3f} ms CPU + its PostgreSQL {per['pg lane']:.3f}; "
            f"emit {per['emit']:.3f} + its PostgreSQL {per['pg emit']:.3f}; "
            f"{wall / events * 1000:.3f} ms wall per lone delivery ({events})"
        )
    medians = {k: statistics.median(r[k] for r in results) for k in warm}
    print("median: " + ", ".join(f"{k} {v:.3f} ms" for k, v in medians.items()))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.lone_cpu", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="lone deliveries per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--profile", action="store_true", help="print a profile of one run")
    args = parser.parse_args()
    with_receiver_and_database(lambda port: _run(args.events, args.runs, port, args.profile))


def with_receiver_and_database(run) -> None:
    """Start the benchmark receiver and make this tool's database, call run(receiver port),
    then stop and drop both."""
    from tests.bench.topology import Topology, free_port, wait_until

    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-m", "tests.bench.receiver", str(port)])
    _recreate()
    try:
        wait_until(lambda: Topology._answers(f"http://127.0.0.1:{port}/_count"), 20, "receiver")
        _setup()
        run(port)
    finally:
        receiver.terminate()
        from django.db import connections

        connections.close_all()
        _recreate(drop_only=True)


if __name__ == "__main__":
    main()
