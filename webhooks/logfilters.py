"""Logging filters named in settings.LOGGING."""

import logging


class ServerErrorsOnly(logging.Filter):
    """Pass django.request records of 5xx answers (and those without a status); drop 4xx ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500)
