"""Logging filters named in settings.LOGGING."""

import logging

from webhooks import wire


class ServerErrorsOnly(logging.Filter):
    """Pass django.request records of 5xx answers (and those without a status); drop 4xx ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500)


class RedactUrls(logging.Filter):
    """Cut the path and query of each URL in a record: webhook URLs carry tokens there.

    The engine's own lines name ids only; this also covers what libraries and tracebacks say.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = wire.redacted_error(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = wire.redacted_error(text)
        return True
