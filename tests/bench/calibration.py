"""How fast this machine is today, in the units a lone delivery is made of.

The same tree's CPU per delivery has moved by half between two hours of one day on this shared
virtual machine, with no steal time to show for it. So the lone group starts with what a bare
PostgreSQL round trip and a bare commit cost now, through psycopg on the benchmark database:
figures from different days compare only as multiples of these.
"""

import time
from pathlib import Path

from django.db import connection

from tests.bench.report import Row

ROUND_TRIPS, COMMITS = 2000, 500


def _session_ns(pid: int) -> int:
    """Return the CPU nanoseconds PostgreSQL's session pid has used so far (schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _spent(raw, pid: int, count: int, statement: str, params=None) -> tuple[float, float]:
    """Run statement count times; return (client thread CPU, session CPU) per run, in µs."""
    session, client = _session_ns(pid), time.thread_time_ns()
    for _ in range(count):
        raw.execute(statement, params, prepare=True).fetchall()
    return (
        (time.thread_time_ns() - client) / count / 1000,
        (_session_ns(pid) - session) / count / 1000,
    )


def row() -> Row:
    """Return the calibration row: a round trip's CPU, client and server; a commit's, server."""
    connection.ensure_connection()
    raw = connection.connection
    pid = raw.info.backend_pid
    raw.execute("CREATE TABLE IF NOT EXISTS bench_calibration (n int)")
    try:
        _spent(raw, pid, 200, "SELECT 1")  # warm: the plan, the caches
        trip = _spent(raw, pid, ROUND_TRIPS, "SELECT 1")
        commit = _spent(raw, pid, COMMITS, "INSERT INTO bench_calibration VALUES (1) RETURNING n")
    finally:
        raw.execute("DROP TABLE bench_calibration")
    return Row(
        "machine calibration (psycopg, prepared, autocommit)",
        "CPU µs: SELECT 1 client / PostgreSQL; one-row INSERT and commit, PostgreSQL",
        f"{trip[0]:.0f} / {trip[1]:.0f}; {commit[1]:.0f}",
    )
