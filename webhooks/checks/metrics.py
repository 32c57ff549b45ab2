"""A /metrics that would silently miss the workers' attempts: W060, also at startup."""

import os

from django.conf import settings
from django.core.checks import Tags, Warning, register

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_TOPOLOGY_TAG = "webhooks_metrics_topology"  # run_startup_checks runs these


def aggregates_processes() -> bool:
    """Return whether /metrics adds up every process's counters, or needs not to.

    The embedded mode (no REDIS_URL) delivers in the process that serves /metrics; the queued
    topology (gunicorn plus taskiq workers) records attempts in other processes, which only
    prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR) bring together.
    """
    return bool(os.environ.get(MULTIPROC_ENV)) or not getattr(settings, "REDIS_URL", "")


# A deploy check (`check --deploy`), and run by gunicorn and the worker at startup: not by every
# management command, which would repeat it in every cron job's output.
@register(Tags.compatibility, METRICS_TOPOLOGY_TAG, deploy=True)
def check_metrics_topology(app_configs=None, **kwargs) -> list:
    """Warn when deliveries run in worker processes whose counters /metrics can't see."""
    if aggregates_processes():
        return []
    return [
        Warning(
            f"REDIS_URL is set (deliveries run in separate worker processes) but {MULTIPROC_ENV} "
            "is not: /metrics shows only the answering process's own counters, so no delivery "
            "attempts at all (webhooks_metrics_multiprocess is 0).",
            hint=f"Set {MULTIPROC_ENV} to one empty directory shared by the web, worker and "
            "scheduler processes of a machine, in their environment before they start "
            "(docs/operations.md, Monitoring).",
            obj="PROMETHEUS_MULTIPROC_DIR",
            id="webhooks.W060",
        )
    ]
