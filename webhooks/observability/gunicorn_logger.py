"""Gunicorn's logger class (`--logger-class`): its error and access lines as JSON on request.

It is also where the app learns gunicorn's `threads` (webhooks/webserver.py).
"""

import os

from gunicorn.glogging import Logger

from webhooks import webserver, wire
from webhooks.logfilters import redacted_query, redacted_request_targets
from webhooks.observability.logs import JsonFormatter


class JsonAwareLogger(Logger):
    """Gunicorn's own logger, whose lines become JSON objects when LOG_FORMAT=json."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        """Gunicorn's access-log fields, with query values cut (a portal sign-in token)."""
        atoms = super().atoms(resp, req, environ, request_time)
        if environ.get("QUERY_STRING"):
            atoms["q"] = redacted_query(environ["QUERY_STRING"])
            atoms["r"] = redacted_request_targets(atoms["r"])
            atoms["{query_string}e"] = atoms["q"]
            atoms["{raw_uri}e"] = redacted_request_targets(atoms.get("{raw_uri}e", ""))
        # The page after a sign-in link names it as its referer.
        atoms["f"] = wire.redacted_error(atoms["f"])
        if "{referer}i" in atoms:
            atoms["{referer}i"] = atoms["f"]
        return atoms

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
