"""CPU time by kind of process, from /proc: where a scenario's cycles went."""

import os
from pathlib import Path

# What a process's command line contains -> the name it is reported under (first match wins).
KINDS = [
    ("taskiq worker", "worker"),
    ("taskiq scheduler", "scheduler"),
    ("gunicorn", "web"),
    ("tests.bench.receiver", "receiver"),
    ("redis-server", "redis"),
    ("postgres", "postgres"),
]
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _kind(pid: int, me: int, command: str, ours: bool) -> str:
    if pid == me:
        return "emit"
    # Another database's session (someone else's tests on a shared server) is not ours.
    session = command.startswith("postgres: ") and ("(" in command or "[local]" in command)
    if session and " wh_bench " not in command:
        return "other"
    if not session and (command.startswith("postgres: ") or "/bin/postgres " in command):
        return "pg-server"  # WAL writer, checkpointer, autovacuum: shared with other databases
    if not session and not ours:
        return "other"  # someone else's gunicorn or taskiq worker on a shared machine
    return next((kind for key, kind in KINDS if key in command), "other")


def session_seconds() -> tuple[int, float]:
    """Return this thread's PostgreSQL session's pid and its CPU seconds so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return pid, (int(stat[11]) + int(stat[12])) / _TICKS_PER_SECOND


def session_spent(started: tuple[int, float]) -> float | None:
    """Return the session's CPU seconds since session_seconds() returned started, or None if
    the session was replaced meanwhile (its CPU went with it)."""
    pid, seconds = session_seconds()
    return seconds - started[1] if pid == started[0] else None


def _descendants(parents: dict[int, int], root: int) -> set[int]:
    """Return root and every process below it."""
    family, frontier = {root}, {root}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - family
        family |= frontier
    return family


def snapshot() -> dict[int, tuple[str, int]]:
    """Return each live process's kind and CPU ticks so far; the harness is 'emit'.

    Only the harness's own descendants (the topology it started) and the benchmark database's
    sessions count as ours. A process that ends between two snapshots is missed: keep windows
    under a minute, as CONN_MAX_AGE replaces PostgreSQL sessions every 60 s.
    """
    me = os.getpid()
    seen = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # ppid; utime + stime
        seen[int(entry.name)] = (int(stat[1]), command, int(stat[11]) + int(stat[12]))
    ours = _descendants({pid: ppid for pid, (ppid, _, _) in seen.items()}, me)
    return {
        pid: (_kind(pid, me, command, pid in ours), ticks)
        for pid, (_, command, ticks) in seen.items()
    }


def per_item_ms(before: dict, after: dict, items: int) -> dict[str, float]:
    """Return milliseconds of CPU per item by kind, between two snapshots."""
    totals: dict[str, int] = {}
    for pid, (kind, ticks) in after.items():
        totals[kind] = totals.get(kind, 0) + ticks - before.get(pid, (kind, 0))[1]
    return {
        kind: ticks / _TICKS_PER_SECOND * 1000 / max(items, 1)
        for kind, ticks in sorted(totals.items(), key=lambda kv: -kv[1])
        if ticks > 0
    }


# Not in a total: others' processes, and the server's own that every database shares.
NOT_OURS = ("other", "pg-server")


def total(costs: dict[str, float]) -> float:
    """Return the CPU ms of our processes: the kinds not in NOT_OURS."""
    return sum(v for k, v in costs.items() if k not in NOT_OURS)


def text(costs: dict[str, float], skip: tuple[str, ...] = ("other",)) -> str:
    """Return 'worker 2.0, postgres 1.0, ..., total 3.0' for the kinds of 0.05 ms or more.

    postgres is the benchmark database's sessions; pg-server (shown, not in the total) is the
    server's background processes, which other databases on a shared server use too.
    """
    parts = [f"{k} {v:.2f}" for k, v in costs.items() if v >= 0.05 and k not in skip]
    return ", ".join([*parts, f"total {total(costs):.2f}"])
