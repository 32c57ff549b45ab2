"""Structured logs: a JSON formatter, and the delivery/webhook/project ids each line carries.

`bind(...)` puts ids into a context variable that ContextFilter copies onto every record logged
in the same context: a taskiq task runs in a copy of its context, and a web request in
LogContextMiddleware's, so ids never leak from one task or request into the next.
LOG_FORMAT=json (webhooks_project/settings.py) selects JsonFormatter for every process; gunicorn's
own access and error lines follow through webhooks.observability.gunicorn_logger.
"""

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

FIELDS = ("delivery_id", "webhook_id", "project_id", "event_id", "attempt", "outcome")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "webhooks_log_context", default=None
)


def bind(**ids: Any) -> None:
    """Add ids (names from FIELDS) to the log context of the current task or request."""
    current = _context.get() or {}
    _context.set({**current, **{k: str(v) for k, v in ids.items() if v is not None}})


def clear() -> contextvars.Token:
    """Empty the log context; return the token that restores the previous one."""
    return _context.set(None)


def restore(token: contextvars.Token) -> None:
    """Put back the log context that clear() replaced."""
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Copy the bound ids onto each record (an id passed in extra= wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        line.update({key: getattr(record, key) for key in FIELDS if hasattr(record, key)})
        if record.exc_info:
            # exc_text: set by logfilters.RedactUrls, with the URLs in it redacted
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class LogContextMiddleware:
    """Bind the ids a request's URL names (project, webhook, delivery, event) for its log lines."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = clear()
        try:
            return self.get_response(request)
        finally:
            restore(token)

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        bind(**{key: view_kwargs[key] for key in FIELDS if key in view_kwargs})
