"""Crash PostgreSQL under a lane in flight, and say what survived: `python -m tests.crash_probe`.

Run by tests/test_pg_crash.py in a process of its own, against a private cluster that it may
crash (DATABASE_URL, PGDATA and PG_CTL in the environment; PG_CTL_USER runs pg_ctl when set).
One webhook of one lane and one due delivery; its endpoint holds the request for ANSWER_SECONDS.
While the request is in flight the cluster is stopped with `pg_ctl stop -m immediate` (a crash:
no checkpoint, only what reached the WAL on disk survives) and started again. Then, as another
worker would, it tries to take a lane of the webhook. It prints one JSON object.
"""

import json
import os
import subprocess
import threading
import uuid

import django

ANSWER_SECONDS = 6.0


def _pg_ctl(*args: str) -> None:
    command = [os.environ["PG_CTL"], "-D", os.environ["PGDATA"], *args]
    user = os.environ.get("PG_CTL_USER")
    if user:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import close_old_connections, connection
    from django.utils import timezone

    from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
    from tests.receiver import Receiver, Reply
    from tests.support import wait_for
    from webhooks.engine import lanes
    from webhooks.engine.backend import get_store
    from webhooks.models import Delivery, DeliveryAttempt

    # The answer comes within the deadline, and the lease outlasts the crash and the restart.
    settings.WEBHOOKS = {**settings.WEBHOOKS, "DELIVERY_TIMEOUT_SECONDS": 10, "LEASE_SECONDS": 30}
    call_command("migrate", verbosity=0, interactive=False)
    receiver = Receiver().start()
    receiver.default = Reply(delay=ANSWER_SECONDS)
    hook = WebhookFactory(url=receiver.url(), max_in_flight=1)
    lanes.run_lane(hook.id)  # its lane and project slots exist before the crash
    delivery = DeliveryFactory(
        webhook=hook,
        event=EventFactory(project_id=hook.project_id),
        next_attempt_at=timezone.now(),
    )
    connection.close()

    def holder() -> None:
        try:
            lanes.run_lane(hook.id)
        finally:
            connection.close()

    running = threading.Thread(target=holder)
    running.start()
    wait_for(lambda: receiver.in_flight == 1, 10, "the request to be in flight")
    _pg_ctl("stop", "-m", "immediate")
    _pg_ctl("start", "-w", "-l", os.path.join(os.environ["PGDATA"], "log"))
    close_old_connections()
    connection.close()
    after = Delivery.objects.get(pk=delivery.pk)
    # Another worker woken for the webhook now: may it take a lane and claim the delivery?
    again = get_store().acquire(hook.id, uuid.uuid4(), 1)
    took_again = again is not None and any(d.pk == delivery.pk for d in again.deliveries)
    connection.close()
    running.join(ANSWER_SECONDS + 30)
    final = Delivery.objects.get(pk=delivery.pk)
    print(
        json.dumps(
            {
                "status_after_crash": after.status,
                "claimed_again": took_again,
                "lane_taken_again": again is not None,
                "requests": len(receiver.requests),
                "final_status": final.status,
                "attempts": DeliveryAttempt.objects.filter(delivery=final).count(),
            }
        )
    )
    receiver.stop()


if __name__ == "__main__":
    main()
