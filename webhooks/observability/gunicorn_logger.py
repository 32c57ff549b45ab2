"""Gunicorn's logger class (`--logger-class`): its error and access lines as JSON on request.

It is also where the app learns gunicorn's `threads` (webhooks/webserver.py).
"""

import os

from gunicorn.glogging import Logger

from webhooks import webserver
from webhooks.observability.logs import JsonFormatter


class JsonAwareLogger(Logger):
    """Gunicorn's own logger, whose lines become JSON objects when LOG_FORMAT=json."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        # The test-ping share is sized from the real thread count (services/ping_throttle.py).
        webserver.report_threads(cfg.threads)
        # Read from the environment, not Django's settings: the gunicorn master logs before
        # (and without) loading the Django project.
        if os.environ.get("LOG_FORMAT", "text") != "json":
            return
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())
