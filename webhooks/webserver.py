"""What the web server tells the app about itself: how many request threads a process has.

Gunicorn reports it through the logger class every shipped command line loads (`--logger-class
webhooks.observability.gunicorn_logger.JsonAwareLogger`), which gunicorn hands its final
configuration (flags, GUNICORN_CMD_ARGS, config file alike); the master records it before it
forks its workers, so each worker knows its own `threads`. Another server reports nothing.
"""

_reported_threads: int | None = None


def report_threads(count: int) -> None:
    """Record the request threads of each web process, as the web server configured them."""
    global _reported_threads
    _reported_threads = count


def reported_threads() -> int | None:
    """Return the request threads per web process the web server reported, or None."""
    return _reported_threads
