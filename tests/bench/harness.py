"""What every scenario uses: projects of webhooks, in-process emits, the receiver's records."""

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count

from tests.bench.topology import Topology, wait_until
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery
from webhooks.services.emit import emit_webhook_event
from webhooks.services.webhooks import create_webhook

EVENT_TYPE = "config.deployed"
DATA = EVENT_TYPES[EVENT_TYPE].example  # a real deploy: about 1.3 KB once enveloped


@dataclass
class Run:
    """What a scenario measured: emit times by event id and the receiver's successful arrivals."""

    emitted: dict[str, float] = field(default_factory=dict)  # event id -> monotonic emit time
    arrivals: list[tuple[str, str, float]] = field(default_factory=list)  # (delivery, event, t)
    failed_attempts: int = 0
    request_seconds: list[float] = field(default_factory=list)  # API emits: each request's time

    def ours(self) -> list[tuple[str, str, float]]:
        """Return the arrivals of the events this run emitted (all of them if it emitted none)."""
        if not self.emitted:
            return self.arrivals
        return [a for a in self.arrivals if a[1] in self.emitted]

    def latencies(self) -> list[float]:
        """Return emit-to-receipt seconds of each delivery's first successful arrival."""
        first: dict[str, tuple[str, float]] = {}
        for delivery_id, event_id, at in self.ours():
            if delivery_id not in first or at < first[delivery_id][1]:
                first[delivery_id] = (event_id, at)
        return [at - self.emitted[e] for e, at in first.values()]

    def duplicates(self) -> int:
        """Return how many successful arrivals repeated a delivery already received."""
        ours = self.ours()
        return len(ours) - len({a[0] for a in ours})

    def rate(self) -> float:
        """Return deliveries per second from the first emit to the last arrival."""
        ours = self.ours()
        if not ours or not self.emitted:
            return 0.0
        span = max(a[2] for a in ours) - min(self.emitted.values())
        return len({a[0] for a in ours}) / span


class Receiver:
    """The benchmark receiver's control API."""

    def __init__(self, port: int) -> None:
        self.port = port

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = json.dumps(payload).encode() if payload is not None else None
            conn.request(method, path, body=body)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def reset(self, fail_first: bool = False) -> None:
        self._call("POST", "/_reset", {"fail_first": fail_first})

    def count(self) -> int:
        return self._call("GET", "/_count")["ok"]

    def counts(self) -> dict[str, int]:
        return self._call("GET", "/_count")

    def records(self) -> tuple[list[tuple[str, str, float]], int]:
        answer = self._call("GET", "/_records")
        return [tuple(r) for r in answer["ok"]], answer["failed"]


class Bench:
    """The running topology plus helpers to feed it and to read what came out."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.receiver = Receiver(topology.receiver_port)

    def project(self, hooks: int, path: str = "/hook") -> uuid.UUID:
        """Create a project with hooks webhooks on the receiver; return its id."""
        project_id = uuid.uuid4()
        for n in range(hooks):
            create_webhook(
                project_id, name=f"bench {n}", url=f"{self.topology.receiver_url}{path}/{n}"
            )
        return project_id

    def emit_burst(self, project_id: uuid.UUID, events: int, threads: int = 4) -> dict[str, float]:
        """Emit events in-process from threads as fast as they go; return emit times by id."""
        emitted: dict[str, float] = {}
        counter = iter(range(events))
        lock = threading.Lock()

        def work() -> None:
            try:
                while True:
                    with lock:
                        if next(counter, None) is None:
                            return
                    started = time.monotonic()
                    event = emit_webhook_event(project_id, EVENT_TYPE, DATA)
                    emitted[str(event.id)] = started
            finally:
                connection.close()

        run_threads(work, threads)
        return emitted

    def emit_paced(self, project_id: uuid.UUID, events: int, per_second: float) -> Run:
        """Emit events in-process at a steady pace from this thread; return the run."""
        run = Run()
        for _ in range(events):
            started = time.monotonic()
            event = emit_webhook_event(project_id, EVENT_TYPE, DATA)
            run.emitted[str(event.id)] = started
            time.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))
        return run

    def collect(self, run: Run, expected: int, timeout: float) -> Run:
        """Wait until expected deliveries of run arrived, and copy the receiver's records."""
        deadline = time.monotonic() + timeout
        wait_until(lambda: self.receiver.count() >= expected, timeout, f"{expected} arrivals", 0.2)

        def complete() -> bool:  # a stray arrival of an earlier scenario may be in the count
            run.arrivals, run.failed_attempts = self.receiver.records()
            return len({a[0] for a in run.ours()}) >= expected

        wait_until(complete, max(1.0, deadline - time.monotonic()), "our arrivals", 0.5)
        return run

    def settle(self, project_id: uuid.UUID, expected: int, timeout: float = 60) -> dict[str, int]:
        """Wait until the project's deliveries are all final; return their count by status."""

        def counts():
            rows = (
                Delivery.objects.filter(webhook__project_id=project_id)
                .order_by()
                .values_list("status")
                .annotate(n=Count("id"))
            )
            found = dict(rows)
            done = found.get("succeeded", 0) + found.get("failed", 0)
            return found if done >= expected else None

        return wait_until(counts, timeout, f"{expected} final deliveries", 0.2)


def run_threads(target: Callable[[], None], count: int) -> None:
    """Run target in count threads and wait for them all."""
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
