"""Run every benchmark scenario and print one table: `python -m tests.bench` (or `make bench`).

Starts the production topology itself (see topology.py), on a database named wh_bench that it
creates and drops, and a private redis-server. The table also goes to bench-results/latest.md.
"""

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import django

from tests.bench.topology import ROOT, SETTINGS_MODULE, Topology

RESULTS = ROOT / "bench-results"
RSS_TARGET_MIB = 200


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[
            "sql",
            "throughput",
            "lone",
            "api",
            "noisy",
            "hostile-project",
            "backlog",
            "pings",
        ],
        help="run only these scenario groups",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the event counts (a quick run: 0.1)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each throughput burst")
    parser.add_argument("--backlog", type=int, default=20_000, help="pending deliveries to drain")
    parser.add_argument("--keep-db", action="store_true", help="leave wh_bench for inspection")
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="run only the retention cleanup scenario (tests/bench/cleanup.py), not the topology",
    )
    return parser.parse_args(argv)


def _setup_django(topology: Topology) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ["DATABASE_URL"] = topology.database_url
    os.environ["REDIS_URL"] = topology.redis_url
    django.setup()
    # The harness's own INFO lines (one per emit) would bury the progress and the table.
    logging.getLogger("webhooks").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _memory_row(peaks: list[dict[int, int]], first_supervisor: int):
    """Return the memory row: the largest worker child, and the supervisor (taskiq's parent)."""
    from tests.bench.report import Row

    # Each peaks dict starts with its supervisor (peak_rss_kib lists the parent first).
    supervisors = {first_supervisor} | {next(iter(run)) for run in peaks if run}
    children = [kib for run in peaks for pid, kib in run.items() if pid not in supervisors]
    parents = [kib for run in peaks for pid, kib in run.items() if pid in supervisors]
    worst = max(children, default=0) / 1024
    return Row(
        "memory",
        "worker peak RSS (VmHWM): largest worker process / supervisor",
        f"{worst:.0f} MiB / {max(parents, default=0) / 1024:.0f} MiB",
        f"< {RSS_TARGET_MIB} MiB",
        0 < worst < RSS_TARGET_MIB,
    )


def _run(args: argparse.Namespace, topology: Topology, rows: list) -> None:
    from tests.bench import api, backlog, lone, noisy, sql, throughput
    from tests.bench.harness import Bench

    bench = Bench(topology)
    groups = args.only or [
        "sql",
        "throughput",
        "lone",
        "api",
        "noisy",
        "hostile-project",
        "backlog",
        "pings",
    ]
    _progress("warming up")
    bench.receiver.reset()
    warm = bench.project(1, path="/warm-up")
    bench.emit_burst(warm, 20, threads=1)
    bench.settle(warm, 20, timeout=60)
    if "sql" in groups:
        _progress("SQL counts")
        rows += sql.scenarios(bench)
    if "throughput" in groups:
        _progress("throughput bursts")
        rows += throughput.scenarios(bench, args.scale, args.repeats)
    if "lone" in groups:
        _progress("the lone delivery: one emitting thread, the worker running and stopped")
        rows += lone.scenarios(bench, args.scale, args.repeats)
    if "api" in groups:
        _progress("emit latency and steady load through the API")
        rows += api.scenarios(bench, args.scale)
    if "noisy" in groups:
        _progress("noisy neighbour: a hung endpoint with a backlog, another project emitting")
        rows += noisy.scenarios(bench)
    if "pings" in groups:
        from tests.bench import pings

        _progress("test-ping flood: pings to hung endpoints, another client emitting and reading")
        rows += pings.scenarios(bench)
    if "hostile-project" in groups:
        from tests.bench import hostile_project

        _progress("hostile project: 8 hung webhooks at their most lanes, another project emitting")
        rows += hostile_project.scenarios(bench)
    supervisor = topology.processes["worker"].pid
    if "backlog" in groups:
        _progress(f"backlog drain of {args.backlog:,}")
        backlog_rows, peaks = backlog.scenarios(bench, args.backlog)
        rows += backlog_rows
    else:
        peaks = [topology.worker_peak_rss_kib()]
    rows.append(_memory_row(peaks, supervisor))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.cleanup:
        from tests.bench import cleanup

        return cleanup.main(args.scale)
    logdir = RESULTS / "logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    topology = Topology(logdir)
    rows: list = []
    started = time.monotonic()
    try:
        _progress(f"starting PostgreSQL database, Redis, receiver (logs in {logdir})")
        topology.start_base()
        _setup_django(topology)
        _progress("starting web, worker and scheduler from the Procfile")
        topology.start_services()
        _run(args, topology, rows)
        from tests.bench.report import machine

        about = machine(topology.database_url, topology.redis_version(), load)
    finally:
        topology.stop_all(keep_database=args.keep_db)
    from tests.bench.report import table

    text = (
        f"{table(rows)}\n\nMachine: {about}.\nWorker: `{' '.join(topology.commands['worker'])}`."
        f"\nTotal run time {time.monotonic() - started:.0f} s.\n"
    )
    (RESULTS / "latest.md").write_text(text)
    print("\n" + text, flush=True)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
