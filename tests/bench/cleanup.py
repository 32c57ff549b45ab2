"""The retention cleanup at scale: `python -m tests.bench --cleanup [--scale 0.1]`.

Not part of the default run. On a database of its own (wh_bench_cleanup) and a private
redis-server, and without the web/worker topology, it fills 1,000,000 events over 60 days by SQL
(one delivery each, 1.3 attempts on average, 1.3 KB bodies, one delivery in 1,000 left pending
or delivering), then runs `manage.py webhooks_cleanup --days 30` as an operator would, while a
writer thread emits events at a steady pace. It reports rows deleted per second over the three
tables, the first half of the rows against the second, the writer's latency before and during the
cleanup, the command's peak RSS, and what VACUUM and VACUUM FULL then cost and reclaim.

The deleted rows are read from pg_stat_user_tables while the command runs, so the same file
measures any version of the command (an older checkout too: copy this file and tests/history.py).
Those counters are flushed about once a second: the halves mean something from about 20 s of
cleanup on (--scale 0.3 and up).
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

from tests.bench.report import Row, ms, percentile, table
from tests.bench.topology import BIN, ROOT, SETTINGS_MODULE, free_port, wait_until

DATABASE_NAME = "wh_bench_cleanup"
EVENTS = 1_000_000
DAYS = 60
KEEP_DAYS = 30
WRITES_PER_SECOND = 20
BEFORE_SECONDS = 20
TABLES = ("webhooks_event", "webhooks_delivery", "webhooks_deliveryattempt")
RESULTS = ROOT / "bench-results"


def _progress(message: str) -> None:
    print(f"[bench cleanup {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Writer(threading.Thread):
    """Emit one event every 1/WRITES_PER_SECOND s; record (start time, seconds) of each emit."""

    def __init__(self, project_id) -> None:
        super().__init__(daemon=True)
        self.project_id = project_id
        self.samples: list[tuple[float, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from tests.bench.harness import DATA, EVENT_TYPE
        from webhooks.services.emit import emit_webhook_event

        period = 1 / WRITES_PER_SECOND
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started = time.monotonic()
            emit_webhook_event(self.project_id, EVENT_TYPE, DATA)
            self.samples.append((started, time.monotonic() - started))
            next_at += period
            self.stopping.wait(max(0.0, next_at - time.monotonic()))
        connection.close()

    def between(self, start: float, end: float) -> list[float]:
        return [seconds for at, seconds in self.samples if start <= at < end]


def _deleted(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        [list(TABLES)],
    ).fetchone()
    return int(row[0])


def _sizes(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT sum(pg_total_relation_size(relname::regclass)) FROM unnest(%s::text[]) relname",
        [list(TABLES)],
    ).fetchone()
    return int(row[0])


def _run_cleanup(env: dict, stats: psycopg.Connection) -> dict:
    """Run the command; sample deleted rows every 0.2 s; return times, counts, RSS and output."""
    started = time.monotonic()
    base = _deleted(stats)
    wal_start = stats.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "webhooks_cleanup", "--days", str(KEEP_DAYS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    samples = [(started, 0)]
    while True:  # wait4, not poll(): it also gives the child's peak RSS
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.2)
        samples.append((time.monotonic(), _deleted(stats) - base))
    ended = time.monotonic()
    process.returncode = os.waitstatus_to_exitcode(status)
    output = process.stdout.read()
    # The backend flushes its counters as it exits: wait for the last of them.
    total = wait_until(lambda: _settled(stats, base), 15, "the deletion counters")
    samples.append((ended, total))
    wal = stats.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [wal_start])
    # The halves start at the first deletion seen, not at the process start (Django's start-up),
    # so both are read through the same counter lag (stats are flushed about once a second).
    first_at = next((at for at, rows in samples if rows > 0), started)
    half_at = next(at for at, rows in samples if rows >= total / 2)
    return {
        "started": started,
        "ended": ended,
        "rows": total,
        "first_half": half_at - first_at,
        "second_half": ended - half_at,
        "rss_kib": usage.ru_maxrss,
        "wal_bytes": int(wal.fetchone()[0]),
        "output": output.strip(),
        "returncode": process.returncode,
    }


def _settled(stats: psycopg.Connection, base: int) -> int:
    first = _deleted(stats) - base
    time.sleep(1.5)
    return first if first == _deleted(stats) - base and first > 0 else 0


def _timed(conn: psycopg.Connection, sql: str) -> float:
    started = time.monotonic()
    conn.execute(sql)
    return time.monotonic() - started


def _setup(scale: float, redis_url: str, database_url: str):
    """Create the schema, a webhook, and the filled history; return the project id."""
    import django

    os.environ.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE, DATABASE_URL=database_url, REDIS_URL=redis_url
    )
    django.setup()
    import logging

    logging.getLogger("webhooks").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.utils import timezone

    from tests.bench.harness import DATA, EVENT_TYPE
    from tests.history import fill_history
    from webhooks.events import render_envelope
    from webhooks.services.webhooks import create_webhook

    call_command("migrate", verbosity=0, interactive=False)
    webhook = create_webhook(uuid.uuid4(), name="cleanup", url="http://127.0.0.1:9/")
    body = render_envelope(uuid.uuid4(), EVENT_TYPE, webhook.project_id, timezone.now(), DATA)
    events = int(EVENTS * scale)
    _progress(f"filling {events:,} events over {DAYS} days by SQL ({len(body):,} B bodies)")
    fill_history(webhook, events=events, days=DAYS, body=body)
    return webhook.project_id


def _recreate(database_url: str, drop_only: bool = False) -> None:
    maintenance = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def measure(scale: float, logdir: Path) -> list[Row]:
    """Fill, then clean up under writes; return the table rows."""
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    database_url = base.rsplit("/", 1)[0] + "/" + DATABASE_NAME
    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = subprocess.Popen(
        [
            *("redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(logdir)),
        ],
        stdout=subprocess.DEVNULL,
    )
    _recreate(database_url)
    try:
        started = time.monotonic()
        project_id = _setup(scale, redis_url, database_url)
        with psycopg.connect(database_url, autocommit=True) as stats:
            fill_seconds = time.monotonic() - started
            _progress(f"filled in {fill_seconds:.0f} s; VACUUM ANALYZE, CHECKPOINT")
            _timed(stats, "VACUUM ANALYZE")
            # The fill's dirty pages go to disk now, not in the middle of the measured cleanup.
            _timed(stats, "CHECKPOINT")
            filled = _sizes(stats)
            env = {
                **os.environ,
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHONPATH": str(ROOT),
            }
            writer = Writer(project_id)
            writer.start()
            _progress(f"writer alone for {BEFORE_SECONDS} s, then webhooks_cleanup --days 30")
            time.sleep(BEFORE_SECONDS)
            run = _run_cleanup(env, stats)
            writer.stopping.set()
            writer.join(30)
            _progress(run["output"])
            if run["returncode"] != 0:
                raise RuntimeError(f"webhooks_cleanup failed: {run['output']}")
            vacuum = _timed(stats, "VACUUM " + ", ".join(TABLES))
            after_vacuum = _sizes(stats)
            vacuum_full = _timed(stats, "VACUUM FULL " + ", ".join(TABLES))
            after_full = _sizes(stats)
        before = writer.between(run["started"] - BEFORE_SECONDS, run["started"])
        during = writer.between(run["started"], run["ended"])
        reclaim = {"vacuum": vacuum, "after_vacuum": after_vacuum}
        reclaim |= {"vacuum_full": vacuum_full, "after_full": after_full}
        return _rows(scale, fill_seconds, filled, run, before, during, reclaim)
    finally:
        redis.terminate()
        redis.wait(10)
        from django.db import connections

        connections.close_all()
        _recreate(database_url, drop_only=True)


def _latency(values: list[float]) -> str:
    return f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))} / {ms(max(values))}"


def _rows(scale, fill_seconds, filled, run, before, during, reclaim: dict) -> list[Row]:
    mib = 1024 * 1024
    seconds = run["ended"] - run["started"]
    rate = run["rows"] / seconds
    p99_before, p99_during = percentile(before, 99), percentile(during, 99)
    return [
        Row(
            "fill",
            f"{int(EVENTS * scale):,} events over {DAYS} days, by SQL",
            f"{fill_seconds:.0f} s, {filled / mib:,.0f} MiB",
        ),
        Row("cleanup", "rows deleted (events + deliveries + attempts)", f"{run['rows']:,}"),
        Row(
            "cleanup",
            "run time / rows per second",
            f"{seconds:.1f} s / {rate:,.0f}",
            ">= 20,000 rows/s",
            rate >= 20_000,
        ),
        Row(
            "cleanup",
            "first half / second half of the rows",
            f"{run['first_half']:.1f} s / {run['second_half']:.1f} s",
            "second <= first",
            run["second_half"] <= run["first_half"],
        ),
        Row(
            "writer",
            f"emit p50 / p99 / max, {WRITES_PER_SECOND}/s, before ({len(before)})",
            _latency(before),
        ),
        Row(
            "writer",
            f"emit p50 / p99 / max during the cleanup ({len(during)})",
            _latency(during),
            "p99 <= 2x before",
            p99_during <= 2 * p99_before,
        ),
        Row(
            "cleanup",
            "WAL written meanwhile (writer included)",
            f"{run['wal_bytes'] / mib:,.0f} MiB",
        ),
        Row("memory", "webhooks_cleanup peak RSS", f"{run['rss_kib'] / 1024:.0f} MiB"),
        Row(
            "reclaim",
            "VACUUM after the cleanup: time, table size",
            f"{reclaim['vacuum']:.1f} s, {reclaim['after_vacuum'] / mib:,.0f} MiB "
            f"(was {filled / mib:,.0f})",
        ),
        Row(
            "reclaim",
            "VACUUM FULL: time (exclusive lock), table size",
            f"{reclaim['vacuum_full']:.1f} s, {reclaim['after_full'] / mib:,.0f} MiB",
        ),
    ]


def main(scale: float) -> int:
    """Run the scenario, print its table and write it to bench-results/cleanup.md."""
    logdir = RESULTS / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.monotonic()
    rows = measure(scale, logdir)
    text = (
        f"{table(rows)}\n\nLoad average before the run {load}; total run time "
        f"{time.monotonic() - started:.0f} s.\n"
    )
    (RESULTS / "cleanup.md").write_text(text)
    print("\n" + text, flush=True)
    return 0
