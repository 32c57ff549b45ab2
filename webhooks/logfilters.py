"""Logging filters named in settings.LOGGING."""

import logging
import re
from urllib.parse import parse_qsl

from webhooks import wire

# A request line's target in an access log: `GET /portal/open?token=... HTTP/1.1`.
_REQUEST_TARGET = re.compile(r"(?<![\w:/])(/[^\s?\"]*)\?([^\s\"]+)")


def redacted_query(query: str) -> str:
    """Return a query string with every value cut: `token=abc&page=2` -> `token=…&page=…`.

    Our own links carry tokens there (the portal's sign-in link), and access logs keep them.
    """
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{name}={wire.ELLIPSIS}" for name in names) or wire.ELLIPSIS


def redacted_request_targets(text: str) -> str:
    """Return text with the query of each request target (`/path?query`) cut."""
    return _REQUEST_TARGET.sub(lambda m: f"{m.group(1)}?{redacted_query(m.group(2))}", text)


class ServerErrorsOnly(logging.Filter):
    """Pass django.request records of 5xx answers (and those without a status); drop 4xx ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500)


class RedactUrls(logging.Filter):
    """Cut the path and query of each URL in a record: webhook URLs carry tokens there.

    The engine's own lines name ids only; this also covers what libraries and tracebacks say,
    and the development server's request lines (their query values: a portal sign-in token).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redacted_request_targets(wire.redacted_error(message))
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = wire.redacted_error(text)
        return True
