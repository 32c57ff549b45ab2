"""System checks, each with a stable id and a hint: importing this package registers them.

settings (E001-E012), retention (E040-E041), keys (E050/W050, database), observability
(E060-E064), metrics (W060, also at startup), portal (E070-E072), pings (E080-E081),
liveness (E082-E083), deploy (W001-W003).
"""

from webhooks.checks.deploy import check_webhooks_deploy
from webhooks.checks.keys import check_stored_secrets_decrypt, run_startup_checks
from webhooks.checks.liveness import check_liveness_settings
from webhooks.checks.metrics import check_metrics_topology
from webhooks.checks.observability import check_observability_settings
from webhooks.checks.settings import check_webhooks_settings

__all__ = [
    "check_liveness_settings",
    "check_metrics_topology",
    "check_observability_settings",
    "check_stored_secrets_decrypt",
    "check_webhooks_deploy",
    "check_webhooks_settings",
    "run_startup_checks",
]
