"""The test-ping share of the web threads: E080-E081."""

from webhooks.checks.common import _error, _is_number
from webhooks.conf import DEFAULTS, app_settings


def _check_test_pings() -> list:
    errors = []
    ratio = app_settings.TEST_PING_WEB_THREADS_RATIO
    if not _is_number(ratio) or not 0 < ratio <= 1:
        errors.append(
            _error(
                "webhooks.E080",
                "WEBHOOKS['TEST_PING_WEB_THREADS_RATIO'] must be in (0, 1].",
                f"Got {ratio!r}; the default {DEFAULTS['TEST_PING_WEB_THREADS_RATIO']} lets "
                "test pings to hung endpoints take at most half of a web process's threads.",
            )
        )
    threads = app_settings.WEB_THREADS_PER_PROCESS
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads <= 0
    ):
        errors.append(
            _error(
                "webhooks.E081",
                "WEBHOOKS['WEB_THREADS_PER_PROCESS'] must be None or a positive integer.",
                f"Got {threads!r}; None takes the count gunicorn reports (its --threads); "
                "set it to the request threads of another web server.",
            )
        )
    return errors
