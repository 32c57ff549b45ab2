"""Hostile project: one project's 8 webhooks, each at the most lanes allowed, hang on every request
and have many deploys to send; another project's deliveries must keep their latency, and the
hostile project must never hold more than its MAX_IN_FLIGHT_PER_PROJECT attempts at once."""

import uuid

from tests.bench.harness import DATA, EVENT_TYPE, Bench
from tests.bench.report import Row, latency_text, percentile
from tests.bench.topology import wait_until
from webhooks.models import Delivery
from webhooks.services.emit import emit_webhook_event
from webhooks.services.webhooks import create_webhook

WEBHOOKS, DEPLOYS = 8, 40  # the hostile project's webhooks (all at /hang) and its deploys
PROJECT_CAP = 8  # WEBHOOKS["MAX_IN_FLIGHT_PER_PROJECT"], the default; each webhook's max too
EVENTS, PER_SECOND = 40, 5  # the other project's emits
P95_TARGET_SECONDS = 1.0


def scenarios(bench: Bench) -> list[Row]:
    """Run the scenario once; the hostile project's deliveries are failed at the end."""
    bench.receiver.reset()
    hostile = uuid.uuid4()
    for n in range(WEBHOOKS):
        url = f"{bench.topology.receiver_url}/hang/{n}"
        create_webhook(hostile, name=f"hostile {n}", url=url, max_in_flight=PROJECT_CAP)
    for _ in range(DEPLOYS):
        emit_webhook_event(hostile, EVENT_TYPE, DATA)
    wait_until(lambda: bench.receiver.counts()["hung"] >= 4, 30, "the hung requests", 0.1)

    run = bench.emit_paced(bench.project(1, path="/quiet"), EVENTS, PER_SECOND)
    bench.collect(run, EVENTS, timeout=120)
    counts = bench.receiver.counts()
    # Leave nothing hanging for the scenarios that follow.
    Delivery.objects.filter(webhook__project_id=hostile, status="pending").update(status="failed")

    latencies = run.latencies()
    p95 = percentile(latencies, 95)
    name = f"hostile project: {WEBHOOKS} hung webhooks x {DEPLOYS} deploys"
    return [
        Row(
            name,
            f"other project, {EVENTS} events at {PER_SECOND}/s: emit-to-receipt p50 / p95 / p99",
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
            "hostile project: most requests held at once (requests in all)",
            f"{counts['hung_at_once']} ({counts['hung']})",
            f"<= {PROJECT_CAP}",
            counts["hung_at_once"] <= PROJECT_CAP,
        ),
    ]
