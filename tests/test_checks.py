"""System checks reject bad WEBHOOKS values with stable ids and hints."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from webhooks.checks import (
    check_metrics_topology,
    check_observability_settings,
    check_webhooks_deploy,
    check_webhooks_settings,
)


def ids(settings_value, settings):
    settings.WEBHOOKS = settings_value
    return sorted({e.id for e in check_webhooks_settings()})


def test_default_and_test_settings_pass(settings):
    assert check_webhooks_settings() == []
    settings.WEBHOOKS = {}
    assert check_webhooks_settings() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"NOPE": 1}, "webhooks.E002"),
        ({"DELIVERY_TIMEOUT_SECONDS": 0}, "webhooks.E003"),
        ({"DELIVERY_TIMEOUT_SECONDS": "10"}, "webhooks.E003"),
        ({"MAX_WEBHOOKS_PER_PROJECT": -1}, "webhooks.E004"),
        ({"MAX_PAYLOAD_BYTES": 1.5}, "webhooks.E004"),
        ({"ALLOW_PRIVATE_DESTINATIONS": "yes"}, "webhooks.E005"),
        ({"RETRY_SCHEDULE_SECONDS": [5, -1]}, "webhooks.E006"),
        ({"RETRY_SCHEDULE_SECONDS": "5,10"}, "webhooks.E006"),
        ({"RETRY_JITTER_RATIO": 1.5}, "webhooks.E007"),
        ({"LEASE_SECONDS": 5, "DELIVERY_TIMEOUT_SECONDS": 10}, "webhooks.E008"),
        ({"RECOVER_DEFAULT_DAYS": 15, "RECOVER_MAX_DAYS": 14}, "webhooks.E011"),
        ({"RECOVER_DEFAULT_DAYS": 0}, "webhooks.E004"),
        ({"CONNECT_TIMEOUT_SECONDS": 20}, "webhooks.E009"),
        ({"MAX_IN_FLIGHT_PER_WEBHOOK": 9, "MAX_IN_FLIGHT_PER_PROJECT": 8}, "webhooks.E012"),
        ({"MAX_IN_FLIGHT_PER_PROJECT": 0}, "webhooks.E004"),
        ({"CIRCUIT_BREAKER_FAILURES": 0}, "webhooks.E004"),
    ],
)
def test_bad_values_are_rejected_with_a_hint(settings, value, expected):
    settings.WEBHOOKS = value
    errors = check_webhooks_settings()
    assert expected in {e.id for e in errors}
    assert all(e.hint for e in errors)


def test_not_a_dict(settings):
    settings.WEBHOOKS = ["x"]
    assert [e.id for e in check_webhooks_settings()] == ["webhooks.E001"]


def test_bad_settings_stop_management_commands(settings):
    settings.WEBHOOKS = {"RETRY_JITTER_RATIO": -0.1}
    with pytest.raises(SystemCheckError, match=r"webhooks\.E007"):
        call_command("check")
    assert any(e.id == "webhooks.E007" for e in run_checks())


def test_deploy_checks_pass_with_production_like_settings(settings):
    settings.WEBHOOKS = {}
    settings.WEBHOOKS_AUTH_KEY = "k" * 40
    settings.WEBHOOKS_ENCRYPTION_KEYS = ["a-long-random-encryption-key"]
    assert check_webhooks_deploy() == []


def test_deploy_checks_warn_about_missing_keys_and_private_destinations(settings):
    settings.WEBHOOKS = {"ALLOW_PRIVATE_DESTINATIONS": True}
    settings.WEBHOOKS_AUTH_KEY = ""
    settings.WEBHOOKS_ENCRYPTION_KEYS = []
    assert {w.id for w in check_webhooks_deploy()} == {
        "webhooks.W001",
        "webhooks.W002",
        "webhooks.W003",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"OPERATOR_WEBHOOK_URL": "https://agenta.example.com/hooks"}, "webhooks.E060"),
        ({"OPERATOR_WEBHOOK_SECRET": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}, "webhooks.E060"),
        (
            {"OPERATOR_WEBHOOK_URL": "ftp://x", "OPERATOR_WEBHOOK_SECRET": "whsec_c2VjcmV0"},
            "webhooks.E061",
        ),
        (
            {"OPERATOR_WEBHOOK_URL": "https://a.example", "OPERATOR_WEBHOOK_SECRET": "hunter2"},
            "webhooks.E062",
        ),
        ({"OPERATOR_PROJECT_ID": "ops"}, "webhooks.E063"),
        ({"METRICS_COUNT_LIMIT": 0}, "webhooks.E064"),
        ({"METRICS_CONSUMER_IDLE_SECONDS": "60"}, "webhooks.E064"),
    ],
)
def test_bad_operator_and_metrics_settings_are_rejected(settings, value, expected):
    settings.WEBHOOKS = value
    errors = check_observability_settings()
    assert [e.id for e in errors] == [expected]
    assert errors[0].hint


def test_operator_events_configured_in_full_pass(settings):
    settings.WEBHOOKS = {
        "OPERATOR_WEBHOOK_URL": "https://agenta.example.com/api/webhooks/operator",
        "OPERATOR_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    assert check_webhooks_settings() == []
    assert check_observability_settings() == []


def test_a_queued_topology_without_the_multiprocess_directory_is_warned_about(
    settings, monkeypatch
):
    # given deliveries in worker processes (REDIS_URL) and no PROMETHEUS_MULTIPROC_DIR
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    warnings = check_metrics_topology()
    assert [w.id for w in warnings] == ["webhooks.W060"]
    assert "PROMETHEUS_MULTIPROC_DIR" in warnings[0].hint
    # and the checks the web and worker processes run at startup include it
    startup = run_checks(tags=["webhooks_metrics_topology"], include_deployment_checks=True)
    assert "webhooks.W060" in {m.id for m in startup}


@pytest.mark.parametrize(
    ("redis_url", "directory"), [("redis://127.0.0.1:6379/0", "/tmp/metrics"), ("", None)]
)
def test_the_multiprocess_directory_or_the_embedded_mode_passes(
    settings, monkeypatch, redis_url, directory
):
    settings.REDIS_URL = redis_url
    if directory:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", directory)
    else:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert check_metrics_topology() == []
