"""The lone delivery (issue 21): one thread emitting as fast as it can, with the worker running
and without, CPU per delivery by process, and where an emit's wall time goes.

An emit's wall time is split by timing the store's statement and the Redis wake-up in this
process (wall and this thread's CPU), and by reading the CPU of this process's own PostgreSQL
session from /proc: what a statement waited for beyond both CPUs is the commit's WAL flush and
the run queue (two cores shared with the worker, PostgreSQL and everyone else).
"""

import contextlib
import functools
import statistics
import time
import uuid
from dataclasses import dataclass, field

from tests.bench import calibration, cpu, throughput
from tests.bench.harness import DATA, EVENT_TYPE, Bench, Run
from tests.bench.report import Row, latency_text
from webhooks.engine import wakeups
from webhooks.engine.pgemit import PgEmit
from webhooks.services.emit import emit_webhook_event

# Issue 21, one emitting thread, 2,000 x 1: deliveries/s, and the emit rate with the worker
# running as a share of the rate without it.
RATE_TARGET, EMIT_SHARE_TARGET = 700, 0.75


@dataclass
class Spent:
    """Wall and thread-CPU seconds spent in one part of the emits."""

    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class Emits:
    """One emitting run: the run itself, its wall time, and where that time went."""

    run: Run
    seconds: float = 0.0
    thread_cpu: float = 0.0
    backend_cpu: float = 0.0  # this process's PostgreSQL session
    parts: dict[str, Spent] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.run.emitted) / max(self.seconds, 1e-9)

    def breakdown(self) -> str:
        """Return 'wall X ms = SQL a (...) + Redis b + rest c; CPU ...' per emit."""
        n = max(len(self.run.emitted), 1)
        sql = self.parts["insert"]
        redis = self.parts["wake"]
        waited = max(0.0, sql.wall - sql.cpu - self.backend_cpu)
        rest = self.seconds - sql.wall - redis.wall

        def per(seconds: float) -> str:
            return f"{seconds / n * 1000:.2f}"

        return (
            f"wall {per(self.seconds)} ms = SQL {per(sql.wall)} (PostgreSQL CPU "
            f"{per(self.backend_cpu)}, client CPU {per(sql.cpu)}, waiting {per(waited)}) + "
            f"Redis {per(redis.wall)} (CPU {per(redis.cpu)}) + validation and the rest "
            f"{per(rest)}; emitter CPU {per(self.thread_cpu)}"
        )


def _timed(parts: dict[str, Spent], name: str, function):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        wall, cpu_time = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = parts[name]
            spent.wall += time.perf_counter() - wall
            spent.cpu += time.thread_time() - cpu_time

    return timed


@contextlib.contextmanager
def _timing(parts: dict[str, Spent]):
    """Time the emit's statements and its wake-up while the block runs."""
    saved = PgEmit.insert_event, wakeups.wake
    for name in ("insert", "wake"):
        parts[name] = Spent()
    PgEmit.insert_event = _timed(parts, "insert", saved[0])
    wakeups.wake = _timed(parts, "wake", saved[1])
    try:
        yield
    finally:
        PgEmit.insert_event, wakeups.wake = saved


def emit_one_thread(projects: list[uuid.UUID], events: int) -> Emits:
    """Emit events in-process from this thread as fast as it goes, round-robin over projects."""
    emits = Emits(Run())
    session = cpu.session_seconds()
    thread_cpu, started = time.thread_time(), time.perf_counter()
    with _timing(emits.parts):
        for n in range(events):
            at = time.monotonic()
            event = emit_webhook_event(projects[n % len(projects)], EVENT_TYPE, DATA)
            emits.run.emitted[str(event.id)] = at
    emits.seconds = time.perf_counter() - started
    emits.thread_cpu = time.thread_time() - thread_cpu
    emits.backend_cpu = cpu.session_spent(session) or 0.0
    return emits


@dataclass
class Result:
    emits: Emits
    cpu_ms: dict[str, float]
    succeeded: int


def _projects(bench: Bench, projects: int) -> list[uuid.UUID]:
    return [bench.project(1, path=f"/lone/{n}") for n in range(projects)]


def _with_worker(bench: Bench, events: int, projects: int) -> Result:
    bench.receiver.reset()
    ids = _projects(bench, projects)
    before = cpu.snapshot()
    emits = emit_one_thread(ids, events)
    bench.collect(emits.run, events, timeout=120 + events / 50)
    costs = cpu.per_item_ms(before, cpu.snapshot(), events)
    succeeded = sum(bench.settle(p, events // projects).get("succeeded", 0) for p in ids)
    return Result(emits, costs, succeeded)


def _without_worker(bench: Bench, events: int, projects: int) -> Result:
    """Emit with the worker stopped (CPU measured over the emits only), then let it drain."""
    bench.topology.stop("worker")
    bench.receiver.reset()
    ids = _projects(bench, projects)
    before = cpu.snapshot()
    emits = emit_one_thread(ids, events)
    costs = cpu.per_item_ms(before, cpu.snapshot(), events)
    bench.topology.start_worker()
    bench.collect(Run(emitted=dict(emits.run.emitted)), events, timeout=120 + events / 50)
    succeeded = sum(bench.settle(p, events // projects).get("succeeded", 0) for p in ids)
    return Result(emits, costs, succeeded)


def _median(results: list[Result], key) -> Result:
    return sorted(results, key=key)[len(results) // 2]


def one_thread(bench: Bench, events: int, projects: int, repeats: int) -> list[Row]:
    """One emitting thread, events round-robin over projects of one webhook each."""
    running = [_with_worker(bench, events, projects) for _ in range(repeats)]
    stopped = [_without_worker(bench, events, projects) for _ in range(repeats)]
    median = _median(running, lambda r: r.emits.run.rate())
    rates = ", ".join(f"{r.emits.run.rate():,.0f}" for r in running)
    emit_with = statistics.median(r.emits.rate for r in running)
    emit_without = statistics.median(r.emits.rate for r in stopped)
    quiet = _median(stopped, lambda r: r.emits.rate)
    share = emit_with / max(emit_without, 1e-9)
    webhooks = f"{projects} webhooks of {projects} projects" if projects > 1 else "1 webhook"
    name = f"{events:,} events x {webhooks}, one emitting thread"
    duplicates = sum(r.emits.run.duplicates() for r in running)
    succeeded = sum(r.succeeded for r in running + stopped)
    latencies = median.emits.run.latencies()
    target = projects == 1
    return [
        Row(
            name,
            "deliveries/s, first emit to last receipt, median",
            f"{median.emits.run.rate():,.0f}/s (runs: {rates})",
            f">= {RATE_TARGET}/s" if target else "",
            median.emits.run.rate() >= RATE_TARGET if target else None,
        ),
        Row(name, "emit-to-receipt p50 / p95 / p99", latency_text(latencies)),
        Row(name, "CPU ms per delivery, by process", cpu.text(median.cpu_ms)),
        Row(
            name,
            "emits/s with the worker running / without it, medians",
            f"{emit_with:,.0f}/s / {emit_without:,.0f}/s ({share:.0%})",
            f">= {EMIT_SHARE_TARGET:.0%}" if target else "",
            share >= EMIT_SHARE_TARGET if target else None,
        ),
        Row(name, "per emit, the worker running", median.emits.breakdown()),
        Row(name, "per emit, no worker", quiet.emits.breakdown()),
        Row(name, "CPU ms per emit, by process, no worker", cpu.text(quiet.cpu_ms)),
        Row(
            name,
            f"outcome of {2 * repeats} runs",
            f"{succeeded:,} succeeded, {duplicates} duplicate receipts",
            "all succeeded, none twice",
            succeeded == 2 * repeats * events and duplicates == 0,
        ),
    ]


def idle(bench: Bench, seconds: float = 5.0) -> Row:
    """Return the CPU the topology spends per second with nothing to deliver (the worker's
    reads, the scheduler's sweeps): what a paced scenario's lone deliveries also carry."""
    before = cpu.snapshot()
    time.sleep(seconds)  # a measuring window, not a synchronisation
    costs = cpu.per_item_ms(before, cpu.snapshot(), 1)
    per_second = {kind: ms / seconds for kind, ms in costs.items()}
    return Row("idle, nothing to deliver", "CPU ms per second, by process", cpu.text(per_second))


def scenarios(bench: Bench, scale: float = 1.0, repeats: int = 3) -> list[Row]:
    """Run 2,000 x 1 and 2,000 x 10 webhooks of 10 projects, one emitting thread each, then a
    lone delivery paced at 100 events/s (50/s is in the throughput group); first, what this
    machine's round trip and commit cost today (calibration.py)."""
    events = max(10, round(2000 * scale))
    rows = [calibration.row(), idle(bench)]
    rows += one_thread(bench, events, 1, repeats) + one_thread(bench, events, 10, repeats)
    return rows + throughput.paced(bench, max(1, round(1000 * scale)), 100)
