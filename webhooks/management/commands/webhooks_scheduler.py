"""Run the sweep on a timer: the scheduler process of the Procfile."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from webhooks.conf import app_settings
from webhooks.engine.sweep import dispatch_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Every WEBHOOKS['DISPATCH_INTERVAL_SECONDS'], end expired leases and wake the webhooks "
        "with due work, in this process, until SIGTERM or SIGINT. Several schedulers are "
        "harmless, one is enough."
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
        while not stop.is_set():
            close_old_connections()  # a connection the database dropped is replaced first
            try:
                dispatch_due()
            except Exception:
                logger.exception("sweep failed; the next one tries again")
            stop.wait(app_settings.DISPATCH_INTERVAL_SECONDS)
        close_old_connections()
