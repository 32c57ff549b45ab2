"""deploy/grafana and deploy/prometheus: they parse, and every metric they name is exported."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client

from tests.conftest import SERVICE_KEY

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana" / "webhooks-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bwebhooks_[a-z0-9_]+\b")
# What the sample names of each metric type are called in the text format.
SUFFIXES = {
    "counter": ["_total"],
    "histogram": ["_bucket", "_sum", "_count"],
    "gauge": [""],
}


@pytest.fixture
def exported(db, monkeypatch) -> set[str]:
    """Return every sample name GET /metrics can serve."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {SERVICE_KEY}")
    assert response.status_code == 200
    names = set()
    for name, kind in re.findall(r"^# TYPE (webhooks_\S+) (\S+)$", response.content.decode(), re.M):
        base = name.removesuffix("_total")
        names |= {base + suffix for suffix in SUFFIXES[kind]}
    return names


def _expressions() -> dict[str, list[str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    return {
        "dashboard": [t["expr"] for p in dashboard["panels"] for t in p["targets"]],
        "alerts": [rule["expr"] for rule in rules],
    }


def test_the_dashboard_and_the_rules_name_only_exported_metrics(exported):
    for source, expressions in _expressions().items():
        named = {name for expr in expressions for name in METRIC.findall(expr)}
        assert named, source
        assert named - exported == set(), f"{source} names metrics nobody exports"


def test_the_rules_cover_what_an_operator_must_be_woken_for():
    rules = {r["alert"]: r for r in yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]}
    expected = {
        "WebhooksBacklogLate": "webhooks_backlog_oldest_due_age_seconds",
        "WebhooksExpiredLeases": "webhooks_expired_leases",
        "WebhooksNoSweep": "webhooks_sweep_last_run_timestamp_seconds",
        "WebhooksWebhookFailing": "webhooks_webhook_failing_seconds",
        "WebhooksWorkerAbsent": "webhooks_stream_consumers_active",
    }
    for alert, metric in expected.items():
        assert metric in rules[alert]["expr"], alert
        assert rules[alert]["annotations"]["summary"]
    assert "> 60" in rules["WebhooksBacklogLate"]["expr"]
    assert "> 60" in rules["WebhooksNoSweep"]["expr"]


def test_the_dashboard_shows_every_metric_the_service_records(exported):
    shown = {name for expr in _expressions()["dashboard"] for name in METRIC.findall(expr)}
    bases = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in exported}
    shown_bases = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in shown}
    assert bases - shown_bases == set()
