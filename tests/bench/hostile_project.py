"""Hostile project: one project's 8 webhooks, each at the most lanes allowed, hang on every request
and have many deploys to send; another project's deliveries must keep their latency, and the
hostile project must never hold more than its MAX_IN_FLIGHT_PER_PROJECT attempts at once."""

import uuid

from tests.bench.harness import DATA, EVENT_TYPE, Bench
from tests.bench.noisy import measure_the_other_project
from tests.bench.report import Row
from tests.bench.topology import wait_until
from webhooks.services.emit import emit_webhook_event
from webhooks.services.webhooks import create_webhook

WEBHOOKS, DEPLOYS = 8, 40  # the hostile project's webhooks (all at /hang) and its deploys
PROJECT_CAP = 8  # WEBHOOKS["MAX_IN_FLIGHT_PER_PROJECT"], the default; each webhook's max too
EVENTS = 40  # the other project's emits, at noisy.PER_SECOND (5/s)


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
    name = f"hostile project: {WEBHOOKS} hung webhooks x {DEPLOYS} deploys"
    return measure_the_other_project(bench, hostile, name, EVENTS, "hostile project", PROJECT_CAP)
