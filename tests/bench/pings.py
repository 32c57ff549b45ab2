"""Test-ping flood: test pings to hung endpoints from the API, the admin and the portal, every
second, while another client emits events and reads the API; that client's latencies must hold."""

import uuid

from django.conf import settings

from tests import flood
from tests.bench.harness import Bench
from tests.bench.report import Row, latency_text, ms, percentile
from webhooks.models import DeliveryAttempt
from webhooks.services.api_keys import create_api_key
from webhooks.services.webhooks import create_webhook

FLOOD_SECONDS = 20.0  # two rounds of the 10 s delivery deadline
BASELINE_SECONDS = 5.0
SHARE = 2 * 4 // 2  # the Procfile's 2 gunicorn workers, half of each one's 4 threads
P99_TARGET_SECONDS = 1.0


def _others(bench: Bench) -> list:
    base = bench.topology.web_url
    project = bench.project(1, path="/quiet")
    webhook = create_webhook(project, name="read me", url=f"{bench.topology.receiver_url}/q")
    _, read_key = create_api_key(project, "bench reader", ["webhooks:read"])
    return [
        flood.emitter(base, settings.WEBHOOKS_AUTH_KEY, project),
        flood.reader(base, read_key, project, webhook.id),
    ]


def _pingers(bench: Bench) -> tuple[uuid.UUID, list]:
    base, token = bench.topology.web_url, f"Access {settings.WEBHOOKS_AUTH_KEY}"
    project = uuid.uuid4()
    hooks = [
        create_webhook(project, name=f"hung {n}", url=f"{bench.topology.receiver_url}/hang/{n}")
        for n in range(6)
    ]
    return project, [
        *(flood.api_ping(base, token, project, h.id) for h in hooks[:3] for _ in range(5)),
        *(flood.portal_ping(base, project, hooks[3].id) for _ in range(3)),
        flood.admin_ping(base, [hooks[4].id, hooks[5].id]),
    ]


def _seconds(answers: list[flood.Answer], actor: str) -> list[float]:
    return [a.seconds for a in answers if a.actor == actor]


def scenarios(bench: Bench) -> list[Row]:
    """Measure the other client alone, then during the flood; report both and the pings."""
    bench.receiver.reset()
    others = _others(bench)
    alone = flood.run(others, [], BASELINE_SECONDS, ping_pace=1.0, other_pace=0.1)
    project, pingers = _pingers(bench)
    flooded = flood.run(others, pingers, FLOOD_SECONDS, ping_pace=1.0, other_pace=0.1)
    name = "test-ping flood: 15 API + 3 portal pings and an admin action each second, hung"
    rows = [
        Row(
            name,
            f"other client alone, {kind}: p50 / p95 / p99",
            latency_text(_seconds(alone, kind)),
        )
        for kind in ("emit", "read")
    ]
    for kind in ("emit", "read"):
        seconds = _seconds(flooded, kind)
        p99 = percentile(seconds, 99)
        rows.append(
            Row(
                name,
                f"other client during the flood, {kind} ({len(seconds)}): p50 / p95 / p99",
                latency_text(seconds),
                f"p99 < {ms(P99_TARGET_SECONDS)}",
                p99 < P99_TARGET_SECONDS,
            )
        )
    pings = [a for a in flooded if a.actor in ("api", "portal")]
    refused = [a.seconds for a in pings if a.status == 429]
    ran = [a.seconds for a in pings if a.status == 200]
    rows.append(
        Row(
            name,
            "API + portal pings: ran / refused (429); refusal p99",
            f"{len(ran)} / {len(refused)}; {ms(percentile(refused, 99))}",
        )
    )
    tests = DeliveryAttempt.objects.filter(delivery__webhook__project_id=project)
    held = flood.most_at_once(tests)
    rows.append(
        Row(name, "pings in flight at once (recorded)", str(held), f"<= {SHARE}", held <= SHARE)
    )
    return rows
