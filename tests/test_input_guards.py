"""No input answers a 500: NUL bytes anywhere in a query string, a header or a body; and the
expected 4xx answers stay out of the error log while 5xx stay loud."""

import logging

import pytest
from django.contrib.auth import get_user_model

from tests.factories import WebhookFactory
from webhooks.logfilters import ServerErrorsOnly

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    return WebhookFactory()


@pytest.mark.parametrize(
    "path",
    [
        "{project}/webhooks?event_type=%00",
        "{project}/webhooks?is_active=%00",
        "{webhook}/deliveries?status=%00",
        "{webhook}/deliveries?event_type=config%00",
        "{webhook}/deliveries?created_after=%00",
        "{webhook}/deliveries?cursor=%00",
        "{webhook}/stats?x%00=1",
    ],
)
def test_a_nul_in_a_query_parameter_answers_400_naming_it(service_client, webhook, path):
    project = f"/api/projects/{webhook.project_id}"
    url = path.format(project=project, webhook=f"{project}/webhooks/{webhook.id}")

    response = service_client.get(url)

    assert response.status_code == 400
    (field,) = response.json()
    assert field == url.partition("?")[2].partition("=")[0].replace("%00", "\\u0000")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\x00b"},
        {"description": "\x00"},
        {"url": "https://hooks.example.com/\x00"},
        {"filters": {"applications": ["a\x00"], "environments": []}},
        {"headers": {"X-Team": "m\x00l"}},
        {"headers": {"X-\x00": "ml"}},
    ],
)
def test_a_nul_in_a_webhook_body_answers_400_naming_the_field(service_client, webhook, body):
    url = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"

    response = service_client.patch(url, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == set(body)


def test_admin_endpoints_and_the_admin_search_refuse_nul(service_client, client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))

    assert service_client.post("/api/admin/webhooks/retry-stuck?stuck_after=%00").status_code == 400
    assert service_client.post("/api/admin/webhooks/cleanup?days=%00").status_code == 400
    assert client.get("/admin/webhooks/webhook/?q=%00").status_code == 400
    assert client.get("/admin/webhooks/apikey/?q=%00").status_code == 400


@pytest.mark.parametrize("credential", ["ApiKey ak_\x00.x", "ApiKey ak_1.\x00", "ApiKey é.é"])
def test_an_odd_api_key_answers_401(webhook, credential):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=credential)
    assert client.get(f"/api/projects/{webhook.project_id}/webhooks").status_code == 401


def _record(status: int) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "x", (), None)
    record.status_code = status
    return record


def test_4xx_answers_are_not_logged_and_5xx_are(client, caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        for _ in range(3):
            assert client.get("/api/projects/not-a-uuid/webhooks").status_code == 404
            assert client.get("/api/event-types").status_code == 401

    assert "django.request" not in caplog.text
    quiet = ServerErrorsOnly()
    assert not quiet.filter(_record(404)) and not quiet.filter(_record(429))
    assert quiet.filter(_record(500)) and quiet.filter(_record(503))
