"""Through the HTTP API (gunicorn, as the Procfile runs it): emit latency, and a steady load."""

import http.client
import json
import threading
import time
import uuid

from django.conf import settings

from tests.bench import cpu
from tests.bench.harness import DATA, EVENT_TYPE, Bench, Run, run_threads
from tests.bench.report import Row, latency_text, ms, percentile

EMIT_P99_TARGET = 0.030  # seconds, with 50 matching webhooks
STEADY_P99_TARGET = 0.020  # seconds, emit-to-receipt at 100 events/s (issue 12)


class Client:
    """One keep-alive connection to the web process, posting events as the service principal."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {
            "Authorization": f"Access {settings.WEBHOOKS_AUTH_KEY}",
            "Content-Type": "application/json",
        }
        self.body = json.dumps({"type": EVENT_TYPE, "data": DATA}).encode()

    def emit(self, project_id: uuid.UUID) -> tuple[str, float, float]:
        """POST one event; return its id, the monotonic send time and the request's seconds."""
        started = time.monotonic()
        self.conn.request("POST", f"/api/projects/{project_id}/events", self.body, self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = time.monotonic() - started
        if response.status != 202:
            raise RuntimeError(f"emit answered {response.status}: {payload[:200]!r}")
        return json.loads(payload)["id"], started, elapsed

    def close(self) -> None:
        self.conn.close()


def paced(bench: Bench, project_id: uuid.UUID, rate: float, count: int, threads: int) -> Run:
    """Emit count events at rate per second from threads connections; return the emit times.

    Event i is sent at start + i / rate by thread i % threads; a late request makes the next
    ones of its thread go at once, so the rate holds while the API keeps up.
    """
    run = Run()
    start = time.monotonic() + 0.2
    turn = iter(range(count))
    lock = threading.Lock()

    def work() -> None:
        client = Client(bench.topology.web_port)
        try:
            while True:
                with lock:
                    i = next(turn, None)
                if i is None:
                    return
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                event_id, sent, elapsed = client.emit(project_id)
                run.emitted[event_id] = sent
                run.request_seconds.append(elapsed)
        finally:
            client.close()

    run_threads(work, threads)
    return run


def emit_latency(bench: Bench, hooks: int, samples: int, rate: float) -> tuple[Row, list[float]]:
    """Measure the emit endpoint with hooks matching webhooks, one client at rate per second."""
    bench.receiver.reset()  # every attempt succeeds (the retry scenario left it failing)
    project = bench.project(hooks, path="/emit")
    paced(bench, project, rate, 20, threads=1)  # warm-up: connections, caches
    run = paced(bench, project, rate, samples, threads=1)
    seconds = run.request_seconds
    p50, p99 = percentile(seconds, 50), percentile(seconds, 99)
    with_50 = hooks >= 50
    row = Row(
        f"emit via API, {hooks} matching webhook{'s' if hooks > 1 else ''}",
        f"endpoint p50 / p99 ({samples} requests at {rate:g}/s)",
        f"{ms(p50)} / {ms(p99)}",
        "p99 < 30 ms" if with_50 else "",
        p99 < EMIT_P99_TARGET if with_50 else None,
    )
    bench.settle(project, (samples + 20) * hooks, timeout=120)
    return row, seconds


def steady(bench: Bench, rate: float, seconds: float) -> list[Row]:
    """Emit rate events/s for seconds through the API to one webhook; report the latency."""
    bench.receiver.reset()
    project = bench.project(1)
    count = round(rate * seconds)
    before = cpu.snapshot()
    started = time.monotonic()
    run = paced(bench, project, rate, count, threads=4)
    achieved = count / (max(run.emitted.values()) - started + 0.2)
    bench.collect(run, count, timeout=120)
    costs = cpu.per_item_ms(before, cpu.snapshot(), count)
    statuses = bench.settle(project, count)
    latencies = run.latencies()
    p99 = percentile(latencies, 99)
    name = f"steady {rate:g} events/s for {seconds:g} s (API)"
    requests = run.request_seconds
    return [
        Row(
            name,
            "emit-to-receipt p50 / p95 / p99",
            latency_text(latencies),
            f"p99 <= {ms(STEADY_P99_TARGET)}",
            p99 <= STEADY_P99_TARGET,
        ),
        Row(
            name,
            "emit request p50 / p99; outcome",
            f"{ms(percentile(requests, 50))} / {ms(percentile(requests, 99))}; "
            f"{achieved:.0f} events/s sent, {statuses.get('succeeded', 0):,} succeeded, "
            f"{run.duplicates()} duplicate receipts",
        ),
        Row(name, "CPU ms per delivery, by process (web included)", cpu.text(costs)),
    ]


def scenarios(bench: Bench, scale: float = 1.0) -> list[Row]:
    """Emit latency with 1 and 50 webhooks (the worker delivering meanwhile), then steady load."""
    one, _ = emit_latency(bench, 1, max(20, round(300 * scale)), rate=20)
    fifty, _ = emit_latency(bench, 50, max(20, round(300 * scale)), rate=5)
    return [one, fifty, *steady(bench, 100, max(3, 30 * scale))]
