"""Backlog drain: 20,000 deliveries to 10 webhooks pile up while the worker is down, then it
drains them."""

import time
import uuid

import psycopg
from django.db import connection
from django.utils import timezone

from tests.bench import cpu
from tests.bench.harness import DATA, EVENT_TYPE, Bench, Run
from tests.bench.report import Row
from webhooks.engine import wakeups
from webhooks.events import render_envelope
from webhooks.models import Delivery, Event, Webhook

WEBHOOKS = 10  # the backlog is spread over this many webhooks of one project
CHUNKS = 10  # the drain is reported as the rate of each tenth of the backlog
DEGRADATION_LIMIT = 0.8  # the last tenth must go at least this fraction of the best tenth's rate
# Issue 12: deliveries/s overall, CPU ms per delivery, statements per delivery (server-side).
RATE_TARGET, WORKER_MS_TARGET, POSTGRES_MS_TARGET, STATEMENTS_TARGET = 1000, 1.2, 0.4, 1.0


def pile_up(project_id: uuid.UUID, count: int) -> None:
    """Store count events with one pending delivery each, spread over the project's webhooks,
    and wake the webhooks, as emit would."""
    webhooks = list(Webhook.objects.filter(project_id=project_id))
    now = timezone.now()
    for start in range(0, count, 2000):
        events = []
        for _ in range(min(2000, count - start)):
            event = Event(project_id=project_id, type=EVENT_TYPE)
            event.body = render_envelope(event.id, EVENT_TYPE, project_id, now, DATA)
            events.append(event)
        Event.objects.bulk_create(events)
        Delivery.objects.bulk_create(
            Delivery(event=e, webhook=webhooks[n % len(webhooks)], next_attempt_at=now)
            for n, e in enumerate(events)
        )
    wakeups.wake([w.id for w in webhooks])


def transactions(database_url: str) -> int:
    """Return the bench database's committed plus rolled-back transactions so far."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return int(row[0])


def chunk_rates(times: list[float], chunks: int = CHUNKS) -> list[float]:
    """Return deliveries/s within each consecutive chunk of the sorted arrival times."""
    size = len(times) // chunks
    rates = []
    for k in range(chunks):
        part = times[k * size : (k + 1) * size + 1]
        span = part[-1] - part[0]
        rates.append((len(part) - 1) / span if span > 0 else float("inf"))
    return rates


def scenarios(bench: Bench, count: int = 20_000) -> tuple[list[Row], list[dict[int, int]]]:
    """Drain count deliveries; return the rows and the peak RSS of both workers, by process.

    The worker is stopped while the backlog is stored and kicked (as during a deploy or an
    outage), then started. Its database sessions end with it, which flushes their statistics,
    so the statements counted in pg_stat_database are the drain's (plus the scheduler's sweeps).
    """
    topology = bench.topology
    peaks = [topology.worker_peak_rss_kib()]
    topology.stop("worker")
    bench.receiver.reset()
    project = bench.project(WEBHOOKS, path="/backlog")
    pile_up(project, count)
    connection.close()  # ends our session, so its statistics are flushed before the snapshot
    time.sleep(1)
    before = transactions(topology.database_url)
    cpu_before = cpu.snapshot()
    topology.start_worker()
    started = time.monotonic()
    arrivals = bench.collect(Run(), count, timeout=60 + count / 50).arrivals
    costs = cpu.per_item_ms(cpu_before, cpu.snapshot(), count)
    statuses = bench.settle(project, count, timeout=120)
    peaks.append(topology.worker_peak_rss_kib())
    topology.stop("worker")
    connection.close()
    time.sleep(1)
    statements = transactions(topology.database_url) - before - 1  # less our own snapshot
    times = sorted(at for _, _, at in arrivals)
    rates = chunk_rates(times)
    overall = (len(times) - 1) / (times[-1] - times[0])
    name = f"backlog drain, {count:,} pending to {WEBHOOKS} webhooks"
    rows = [
        Row(
            name,
            "deliveries/s overall (first to last receipt)",
            f"{overall:,.0f}/s",
            f">= {RATE_TARGET}/s",
            overall >= RATE_TARGET,
        ),
        Row(
            name,
            f"deliveries/s per {count // CHUNKS:,} delivered",
            " ".join(f"{r:,.0f}" for r in rates),
            f"last >= {DEGRADATION_LIMIT:.0%} of best",
            rates[-1] >= DEGRADATION_LIMIT * max(rates),
        ),
        Row(
            name,
            "worker start to first receipt; outcome",
            f"{times[0] - started:.1f} s; {statuses.get('succeeded', 0):,} succeeded, "
            f"{len(arrivals) - len({a[0] for a in arrivals})} duplicate receipts",
        ),
        Row(
            name,
            "CPU ms per delivery, by process (worker start-up included)",
            cpu.text(costs),
            f"worker <= {WORKER_MS_TARGET}, postgres <= {POSTGRES_MS_TARGET}",
            costs.get("worker", 0) <= WORKER_MS_TARGET
            and costs.get("postgres", 0) <= POSTGRES_MS_TARGET,
        ),
        Row(
            name,
            "SQL statements per delivery, server-side",
            f"{statements / count:.2f} (pg_stat_database; the scheduler's sweeps included)",
            f"<= {STATEMENTS_TARGET:.1f}",
            statements / count <= STATEMENTS_TARGET,
        ),
    ]
    return rows, peaks
