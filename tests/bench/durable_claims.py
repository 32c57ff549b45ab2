"""What durable claims cost: lone deliveries through a lane, its lane and claim statements with
synchronous_commit off (DURABLE_CLAIMS False) against on (True, the default), interleaved in
blocks; wall time and CPU (this thread's, and the PostgreSQL backend's from /proc) per delivery,
and the wall time of the lane statements alone (acquire, claim_next, release).

    DATABASE_URL=postgres://... python -m tests.bench.durable_claims [--deliveries 600]

In-process, against the test settings and a real receiver on 127.0.0.1; it migrates the database
named in DATABASE_URL and leaves one webhook and its deliveries there.
"""

import argparse
import os
import statistics
import time
from pathlib import Path

import django

BLOCK = 50  # deliveries per block; the modes alternate block by block


def _backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=600, help="per mode")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tests.factories import EventFactory, WebhookFactory
    from tests.receiver import Receiver
    from webhooks.engine import lanes, pgstore
    from webhooks.models import Delivery

    call_command("migrate", verbosity=0, interactive=False)
    receiver = Receiver().start()
    hook = WebhookFactory(url=receiver.url())
    lanes.run_lane(hook.id)  # makes its lane and project slots
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    claims: dict[str, list[float]] = {"off": [], "on": []}
    for method in ("acquire", "claim_next", "release"):
        real = getattr(pgstore.PgStore, method)

        def timed(self, *a, _real=real, **k):
            started = time.perf_counter()
            try:
                return _real(self, *a, **k)
            finally:
                claims[current].append(time.perf_counter() - started)

        setattr(pgstore.PgStore, method, timed)
    wall: dict[str, list[float]] = {"off": [], "on": []}
    cpu = {"off": [0.0, 0.0], "on": [0.0, 0.0]}  # this thread, the backend
    for block in range(2 * args.deliveries // BLOCK):
        current = ("off", "on")[block % 2]
        settings.WEBHOOKS = {**settings.WEBHOOKS, "DURABLE_CLAIMS": current == "on"}
        for _ in range(BLOCK):
            Delivery.objects.create(
                event=EventFactory(project_id=hook.project_id),
                webhook=hook,
                next_attempt_at=timezone.now(),
            )
            thread, server = time.thread_time(), _backend_cpu_seconds(backend)
            started = time.perf_counter()
            assert lanes.run_lane(hook.id) == 1
            wall[current].append(time.perf_counter() - started)
            cpu[current][0] += time.thread_time() - thread
            cpu[current][1] += _backend_cpu_seconds(backend) - server
    receiver.stop()
    print(
        "| claims' synchronous_commit | lone delivery p50 / p99 | lane statements p50 / p99 |"
        " CPU per delivery: worker / PostgreSQL backend |"
    )
    print("|---|---|---|---|")
    for mode in ("off", "on"):
        runs, statements = sorted(wall[mode]), sorted(claims[mode])

        def pct(values, p):
            return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000

        count = len(runs)
        print(
            f"| {mode} | {pct(runs, 50):.2f} / {pct(runs, 99):.2f} ms"
            f" | {pct(statements, 50):.2f} / {pct(statements, 99):.2f} ms"
            f" | {cpu[mode][0] / count * 1000:.2f} / {cpu[mode][1] / count * 1000:.2f} ms |"
        )
    print(
        f"({count} lone deliveries per mode, blocks of {BLOCK} alternating;"
        f" mean wall {statistics.mean(wall['off']) * 1000:.2f} vs"
        f" {statistics.mean(wall['on']) * 1000:.2f} ms)"
    )


if __name__ == "__main__":
    main()
