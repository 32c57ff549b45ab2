"""Bursts through the whole engine: emit in-process, deliver through Redis and the worker."""

from dataclasses import dataclass

from tests.bench import cpu
from tests.bench.harness import Bench, Run
from tests.bench.report import Row, latency_text, ms, percentile

# Deliveries per second (issue 12): 2,000 x 1 and 200 x 10.
RATE_TARGET_ONE, RATE_TARGET_TEN = 600, 900
# Emit-to-receipt seconds at 50 events/s in-process.
PACED_P50_TARGET, PACED_P99_TARGET = 0.008, 0.012
# A lone delivery's CPU ms, paced (issue 21): all processes, the worker, PostgreSQL's sessions.
PACED_CPU_TARGET, PACED_WORKER_TARGET, PACED_POSTGRES_TARGET = 3.0, 1.5, 0.8


@dataclass
class Burst:
    """One burst's measurements."""

    run: Run
    succeeded: int
    emit_seconds: float
    cpu_ms: dict[str, float]  # CPU per delivery by kind of process

    @property
    def rate(self) -> float:
        return self.run.rate()


def _burst(bench: Bench, events: int, hooks: int, fail_first: bool) -> Burst:
    bench.receiver.reset(fail_first=fail_first)
    project = bench.project(hooks)
    expected = events * hooks
    run = Run()
    before = cpu.snapshot()
    run.emitted = bench.emit_burst(project, events)
    emit_seconds = max(run.emitted.values()) - min(run.emitted.values())
    bench.collect(run, expected, timeout=120 + expected / 50)
    costs = cpu.per_item_ms(before, cpu.snapshot(), expected)
    statuses = bench.settle(project, expected)
    return Burst(run, statuses.get("succeeded", 0), emit_seconds, costs)


def burst(
    bench: Bench,
    name: str,
    events: int,
    hooks: int,
    *,
    fail_first: bool = False,
    target: int | None = None,
    repeats: int = 1,
) -> list[Row]:
    """Emit events to a project of hooks webhooks at once; measure until every one arrived.

    Events are emitted in-process (emit_webhook_event, the service the API calls) by four
    threads, concurrently with the deliveries: the rate counts from the first emit to the last
    receipt. The API's own cost is measured by the emit and steady scenarios. With repeats,
    the rate is the median run's (its latencies are shown) and the range is given.
    """
    bursts = sorted(
        (_burst(bench, events, hooks, fail_first) for _ in range(repeats)), key=lambda b: b.rate
    )
    median = bursts[len(bursts) // 2]
    spread = f" (runs: {', '.join(f'{b.rate:,.0f}' for b in bursts)})" if repeats > 1 else ""
    expected = events * hooks * repeats
    succeeded = sum(b.succeeded for b in bursts)
    duplicates = sum(b.run.duplicates() for b in bursts)
    return [
        Row(
            name,
            "deliveries/s, first emit to last receipt" + (", median" if repeats > 1 else ""),
            f"{median.rate:,.0f}/s{spread}",
            f">= {target}/s" if target else "",
            median.rate >= target if target else None,
        ),
        Row(name, "emit-to-receipt p50 / p95 / p99", latency_text(median.run.latencies())),
        Row(name, "CPU ms per delivery, by process", cpu.text(median.cpu_ms)),
        Row(
            name,
            "outcome" + (f" of {repeats} runs" if repeats > 1 else ""),
            f"{succeeded:,} succeeded, {median.run.failed_attempts:,} failed attempts, "
            f"{duplicates} duplicate receipts; emitting took {median.emit_seconds:.1f} s "
            f"({events / max(median.emit_seconds, 1e-3):,.0f} events/s)",
            "all succeeded, none twice",
            succeeded == expected and duplicates == 0,
        ),
    ]


def paced(bench: Bench, events: int, per_second: float) -> list[Row]:
    """Emit in-process at a steady pace to one webhook; measure emit-to-receipt latency."""
    bench.receiver.reset()
    project = bench.project(1, path="/paced")
    before, session = cpu.snapshot(), cpu.session_seconds()
    run = bench.emit_paced(project, events, per_second)
    bench.collect(run, events, timeout=60)
    costs = cpu.per_item_ms(before, cpu.snapshot(), events)
    emitter = cpu.session_spent(session)
    name = f"paced {per_second:.0f} events/s in-process, {events:,} x 1 webhook"
    latencies = run.latencies()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return [
        Row(
            name,
            "emit-to-receipt p50 / p95 / p99",
            latency_text(latencies),
            f"p50 <= {ms(PACED_P50_TARGET)}, p99 <= {ms(PACED_P99_TARGET)}",
            p50 <= PACED_P50_TARGET and p99 <= PACED_P99_TARGET,
        ),
        Row(
            name,
            "CPU ms per delivery, by process",
            cpu.text(costs) + _session_text(emitter, events),
            f"total <= {PACED_CPU_TARGET}, worker <= {PACED_WORKER_TARGET}, "
            f"postgres <= {PACED_POSTGRES_TARGET}",
            cpu.total(costs) <= PACED_CPU_TARGET
            and costs.get("worker", 0) <= PACED_WORKER_TARGET
            and costs.get("postgres", 0) <= PACED_POSTGRES_TARGET,
        ),
    ]


def _session_text(seconds: float | None, events: int) -> str:
    """Return '; the emitter's own PostgreSQL session X' (ms per event), or '' if unknown."""
    if seconds is None:
        return ""
    return f"; of postgres, the emitter's session {seconds * 1000 / events:.2f}"


def scenarios(bench: Bench, scale: float = 1.0, repeats: int = 3) -> list[Row]:
    """Run the bursts (2,000 x 1, 200 x 10, 1,000 x 1 through a failed first attempt), then
    a paced load of 50 events/s."""
    n = max(1, round(2000 * scale))
    m = max(1, round(200 * scale))
    k = max(1, round(1000 * scale))
    rows = burst(bench, f"{n:,} events x 1 webhook", n, 1, target=RATE_TARGET_ONE, repeats=repeats)
    rows += burst(
        bench, f"{m:,} events x 10 webhooks", m, 10, target=RATE_TARGET_TEN, repeats=repeats
    )
    rows += burst(bench, f"{k:,} events x 1 webhook, 1st attempt fails", k, 1, fail_first=True)
    rows += paced(bench, max(1, round(500 * scale)), 50)
    return rows
