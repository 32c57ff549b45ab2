"""Run the sweep, the retry timers and the liveness check: the scheduler process of the Procfile."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from webhooks.conf import app_settings
from webhooks.engine import ticker
from webhooks.engine.sweep import dispatch_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Every WEBHOOKS['DISPATCH_INTERVAL_SECONDS'], end expired leases and wake the webhooks "
        "with due work; every WEBHOOKS['TIMER_POLL_SECONDS'], wake those whose retry is due; "
        "every WEBHOOKS['WORKER_HEARTBEAT_SECONDS'], end the leases of silent workers; in this "
        "process, until SIGTERM or SIGINT. Several schedulers are harmless, one is enough."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="run one sweep and exit")

    def handle(self, *args, once: bool = False, **options) -> None:
        if once:
            self.stdout.write(f"webhooks_scheduler: woke {dispatch_due()} webhooks")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logger.info("sweeping every %g s", app_settings.DISPATCH_INTERVAL_SECONDS)
        ticker.run(stop)
