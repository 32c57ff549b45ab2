"""Bursts through the whole engine: emit in-process, deliver through Redis and the worker."""

from tests.bench.harness import Bench, Run
from tests.bench.report import Row, latency_text

TARGET_RATE = 500  # deliveries per second, in the first two scenarios


def burst(
    bench: Bench, name: str, events: int, hooks: int, *, fail_first: bool = False, target=True
) -> list[Row]:
    """Emit events to a project of hooks webhooks at once; measure until every one arrived.

    Events are emitted in-process (emit_webhook_event, the service the API calls) by four
    threads, so the emitting is not the HTTP layer's speed; the API's own cost is measured by
    the emit and steady scenarios.
    """
    bench.receiver.reset(fail_first=fail_first)
    project = bench.project(hooks)
    expected = events * hooks
    run = Run()
    run.emitted = bench.emit_burst(project, events)
    emit_seconds = max(run.emitted.values()) - min(run.emitted.values())
    bench.collect(run, expected, timeout=120 + expected / 50)
    statuses = bench.settle(project, expected)
    rate = run.rate()
    rows = [
        Row(
            name,
            "deliveries/s, first emit to last receipt",
            f"{rate:,.0f}/s",
            f">= {TARGET_RATE}/s" if target else "",
            rate >= TARGET_RATE if target else None,
        ),
        Row(name, "emit-to-receipt p50 / p95 / p99", latency_text(run.latencies())),
        Row(
            name,
            "outcome",
            f"{statuses.get('succeeded', 0):,} succeeded, {statuses.get('failed', 0)} failed, "
            f"{run.failed_attempts:,} failed attempts, {run.duplicates()} duplicate receipts; "
            f"emitting took {emit_seconds:.1f} s",
        ),
    ]
    ok = statuses.get("succeeded", 0) == expected and run.duplicates() == 0
    rows[-1].passed = ok
    rows[-1].target = "all succeeded, none twice"
    return rows


def scenarios(bench: Bench, scale: float = 1.0) -> list[Row]:
    """Run the three bursts: 2,000 x 1, 200 x 10, and 1,000 x 1 through a failed first attempt."""
    n = max(1, round(2000 * scale))
    m = max(1, round(200 * scale))
    k = max(1, round(1000 * scale))
    rows = burst(bench, f"{n:,} events x 1 webhook", n, 1)
    rows += burst(bench, f"{m:,} events x 10 webhooks", m, 10)
    rows += burst(
        bench, f"{k:,} events x 1 webhook, 1st attempt fails", k, 1, fail_first=True, target=False
    )
    return rows
