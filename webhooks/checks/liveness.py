"""Worker liveness and retry timer settings: E082-E083."""

from django.core.checks import Tags, register

from webhooks.checks.common import _error, _is_number
from webhooks.conf import DEFAULTS, app_settings

TIMINGS = ["WORKER_HEARTBEAT_SECONDS", "WORKER_SILENT_SECONDS", "TIMER_POLL_SECONDS"]


@register(Tags.compatibility)
def check_liveness_settings(app_configs=None, **kwargs) -> list:
    """Return an error for each liveness or timer setting the service can't run with."""
    errors = []
    for name in TIMINGS:
        value = getattr(app_settings, name)
        if not _is_number(value) or value <= 0:
            errors.append(
                _error(
                    "webhooks.E082",
                    f"WEBHOOKS[{name!r}] must be a positive number.",
                    f"Got {value!r}; the default is {DEFAULTS[name]!r}.",
                )
            )
    beat, silent = app_settings.WORKER_HEARTBEAT_SECONDS, app_settings.WORKER_SILENT_SECONDS
    lease = app_settings.LEASE_SECONDS
    if errors or not _is_number(lease):
        return errors  # a bad lease is E003's
    if not 2 * beat <= silent < lease:
        errors.append(
            _error(
                "webhooks.E083",
                "WEBHOOKS['WORKER_SILENT_SECONDS'] must be at least twice "
                "WEBHOOKS['WORKER_HEARTBEAT_SECONDS'] and less than WEBHOOKS['LEASE_SECONDS'].",
                f"Got {silent!r} s of silence for a heartbeat every {beat!r} s and a lease of "
                f"{lease!r} s: one late heartbeat must not end a live worker's leases, and "
                "liveness is there to end them before the lease does.",
            )
        )
    return errors
