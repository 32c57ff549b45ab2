"""Liveness and readiness probes."""

import pytest


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checked"] == ["database", "redis"]


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client, settings, unused_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": {"redis": "ConnectionError"}}


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/projects/not-a-uuid/webhooks")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
