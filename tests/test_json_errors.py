"""Every API error is JSON, the root answers a landing page, unknown schemes are named."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from tests.factories import WebhookFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/not-a-uuid/webhooks",
        "/api/projects/not-a-uuid/events/also-not",
        f"/api/projects/{uuid.uuid4()}/webhooks/123/deliveries",
        "/api/no-such-endpoint",
    ],
)
def test_a_malformed_id_or_unknown_api_path_answers_a_json_404(
    service_client, settings, debug, path
):
    settings.DEBUG = debug  # Django's debug 404 page lists every URL pattern: never for the API
    response = service_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_api_path_missing_its_slash_still_redirects(client):
    response = client.get("/api/docs")
    assert (response.status_code, response["Location"]) == (301, "/api/docs/")


@pytest.mark.parametrize("debug", [False, True])
def test_the_root_is_a_small_page_linking_the_api_docs_and_portal(client, settings, debug):
    settings.DEBUG = debug
    page = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/api/docs/"' in html and 'href="/portal/"' in html
    assert "URLconf" not in html  # not Django's debug 404
    answer = client.get("/", HTTP_ACCEPT="application/json")
    assert answer.json()["links"]["api_docs"] == "/api/docs/"


def test_the_admins_view_site_link_leads_to_the_landing_page(client):
    staff = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(staff)
    index = client.get("/admin/")
    assert 'href="/"' in index.content.decode()  # "View site"
    assert client.get("/", HTTP_ACCEPT="text/html").status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "Token"])
def test_an_unknown_authorization_scheme_answers_401_naming_apikey_and_access(client, scheme):
    hook = WebhookFactory()
    response = client.get(
        f"/api/projects/{hook.project_id}/webhooks", HTTP_AUTHORIZATION=f"{scheme} abc.def"
    )
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert scheme in detail and "ApiKey" in detail and "Access" in detail
    assert "ApiKey" in response["WWW-Authenticate"]
