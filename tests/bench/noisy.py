"""Noisy neighbour: one project's hung endpoint has a backlog; another project's deliveries must
keep their latency, and the hung endpoint must never hold more than its max_in_flight lanes."""

from tests.bench.harness import DATA, EVENT_TYPE, Bench
from tests.bench.report import Row, latency_text, percentile
from tests.bench.topology import wait_until
from webhooks.models import Delivery
from webhooks.services.emit import emit_webhook_event

BACKLOG = 300  # due deliveries of the hung endpoint
EVENTS, PER_SECOND = 20, 5  # the quiet project's emits
MAX_IN_FLIGHT = 4  # WEBHOOKS["MAX_IN_FLIGHT_PER_WEBHOOK"], the default
P95_TARGET_SECONDS = 1.0


def scenarios(bench: Bench) -> list[Row]:
    """Run the scenario once; the hung project's deliveries are failed at the end."""
    bench.receiver.reset()
    noisy = bench.project(1, path="/hang")
    for _ in range(BACKLOG):
        emit_webhook_event(noisy, EVENT_TYPE, DATA)
    wait_until(lambda: bench.receiver.counts()["hung"] >= 1, 30, "the hung endpoint's first", 0.1)
    name = f"noisy neighbour: {BACKLOG} due to a hung endpoint"
    return measure_the_other_project(bench, noisy, name, EVENTS, "hung endpoint", MAX_IN_FLIGHT)


def measure_the_other_project(
    bench: Bench, hung_project, name: str, events: int, hung: str, most_held: int
) -> list[Row]:
    """Emit events from a quiet project while hung_project hangs; fail its deliveries after.

    Return the rows: the quiet project's latency and p95 against its target, and the most
    requests the hung endpoint held at once against most_held.
    """
    run = bench.emit_paced(bench.project(1, path="/quiet"), events, PER_SECOND)
    bench.collect(run, events, timeout=120)
    counts = bench.receiver.counts()
    # Leave nothing hanging for the scenarios that follow.
    Delivery.objects.filter(webhook__project_id=hung_project, status="pending").update(
        status="failed"
    )
    latencies = run.latencies()
    p95 = percentile(latencies, 95)
    return [
        Row(
            name,
            f"other project, {events} events at {PER_SECOND}/s: emit-to-receipt p50 / p95 / p99",
            latency_text(latencies),
        ),
        Row(
            name,
            "other project: emit-to-receipt p95",
            f"{p95 * 1000:,.1f} ms",
            f"< {P95_TARGET_SECONDS * 1000:.0f} ms",
            p95 < P95_TARGET_SECONDS,
        ),
        Row(
            name,
            f"{hung}: most requests held at once (requests in all)",
            f"{counts['hung_at_once']} ({counts['hung']})",
            f"<= {most_held}",
            counts["hung_at_once"] <= most_held,
        ),
    ]
