"""The retention cleanup's settings: E040-E041."""

from webhooks.checks.common import _error, _is_number
from webhooks.conf import DEFAULTS, app_settings

MAX_CLEANUP_BATCH = 100_000  # rows locked by one cleanup transaction


def _check_cleanup() -> list:
    errors = []
    size = app_settings.CLEANUP_BATCH_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_CLEANUP_BATCH:
        errors.append(
            _error(
                "webhooks.E040",
                f"WEBHOOKS['CLEANUP_BATCH_SIZE'] must be an integer from 1 to "
                f"{MAX_CLEANUP_BATCH:,}.",
                f"Got {size!r}; each batch is one transaction that locks its rows, "
                f"so keep it near the default {DEFAULTS['CLEANUP_BATCH_SIZE']}.",
            )
        )
    interval = app_settings.CLEANUP_PROGRESS_SECONDS
    if not _is_number(interval) or interval <= 0:
        errors.append(
            _error(
                "webhooks.E041",
                "WEBHOOKS['CLEANUP_PROGRESS_SECONDS'] must be a positive number.",
                f"Got {interval!r}; the cleanup prints a progress line this often (seconds).",
            )
        )
    return errors
