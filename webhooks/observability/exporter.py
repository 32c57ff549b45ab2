"""Render every metric in the Prometheus text format: this process's, or all processes' files."""

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from webhooks.observability.gauges import ScrapeCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """Return whether this process records into PROMETHEUS_MULTIPROC_DIR (set before start)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class _ModeCollector:
    """The webhooks_metrics_multiprocess gauge: whether /metrics sees other processes at all."""

    def collect(self):
        yield GaugeMetricFamily(
            "webhooks_metrics_multiprocess",
            "1 when /metrics adds up every process of the machine (PROMETHEUS_MULTIPROC_DIR); 0 "
            "when it shows only the answering process's counters (alert on 0 with REDIS_URL set: "
            "the workers' attempts are missing, system check webhooks.W060).",
            value=1 if multiprocess_mode() else 0,
        )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        # Sums the files that every process on this machine (gunicorn workers, taskiq worker
        # processes, the scheduler) writes; a fresh collector per scrape reads them anew.
        multiprocess.MultiProcessCollector(registry)
    registry.register(ScrapeCollector())
    registry.register(_ModeCollector())
    return registry


def render() -> bytes:
    """Return the exposition text of the recorded metrics and the scrape-time gauges."""
    output = generate_latest(_registry())
    if not multiprocess_mode():
        output = generate_latest(REGISTRY) + output  # only this process's own counters
    return output
