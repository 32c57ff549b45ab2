"""Portal links: who may make one, and the token rules (single use, expiry, tampering)."""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tests.factories import WebhookFactory
from tests.portal_support import PortalClient, portal
from webhooks.checks import check_webhooks_settings
from webhooks.models import PortalSession
from webhooks.portal.access import COOKIE_NAME
from webhooks.portal.sessions import create_link

pytestmark = pytest.mark.django_db


def _links(project_id) -> str:
    return f"/api/projects/{project_id}/portal-sessions"


def _open(url: str, client: Client | None = None):
    client = client or Client()
    parts = urlsplit(url)
    return client, client.get(f"{parts.path}?{parts.query}")


def test_the_service_key_makes_a_link_that_opens_the_project_portal(service_client):
    # given a project with a webhook
    project = uuid.uuid4()
    hook = WebhookFactory(project_id=project, name="deploy notifier")

    # when Agenta asks for a read-write link
    answer = service_client.post(
        _links(project), {"role": "read_write", "actor": "ada@example.com"}, format="json"
    )

    # then the link is valid for 15 minutes, and opening it shows the project's webhooks
    assert answer.status_code == 201, answer.content
    link = answer.json()
    assert link["role"] == "read_write"
    assert link["session_hours"] == 8
    assert link["url"].startswith("http://testserver/portal/open?token=")
    expires = timezone.datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=14) < expires - timezone.now() <= timedelta(minutes=15)
    client, opened = _open(link["url"])
    assert (opened.status_code, opened["Location"]) == (302, "/portal/")
    page = client.get("/portal/")
    assert page.status_code == 200
    assert hook.name in page.content.decode()
    assert "ada@example.com" in page.content.decode()


def test_a_project_key_needs_the_write_scope_and_its_own_project(make_key_client):
    project = uuid.uuid4()
    writer = make_key_client(project, ["webhooks:read", "webhooks:write"])
    reader = make_key_client(project, ["webhooks:read"])

    assert writer.post(_links(project), {}, format="json").status_code == 201
    assert reader.post(_links(project), {}, format="json").status_code == 403
    assert writer.post(_links(uuid.uuid4()), {}, format="json").status_code == 404
    assert Client().post(_links(project), {}, content_type="application/json").status_code == 401


def test_the_default_role_is_read_only(service_client):
    link = service_client.post(_links(uuid.uuid4()), {}, format="json").json()

    assert link["role"] == "read_only"
    assert PortalSession.objects.get().role == "read_only"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "admin"}, "role"), ({"actor": 7}, "actor"), ({"expires": 60}, "expires")],
)
def test_a_bad_request_answers_400_naming_the_field(service_client, body, field):
    answer = service_client.post(_links(uuid.uuid4()), body, format="json")

    assert answer.status_code == 400
    assert field in answer.json()


def test_the_service_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="unknown portal role 'owner'"):
        create_link(uuid.uuid4(), role="owner")


def test_a_link_opens_once(service_client):
    link = service_client.post(_links(uuid.uuid4()), {}, format="json").json()["url"]
    _open(link)

    _, again = _open(link)  # another browser, or someone who found the link in a log

    assert again.status_code == 410
    assert "This link was already used" in again.content.decode()


def test_the_browser_that_opened_a_link_may_load_it_again(service_client):
    # An iframe reload requests the link's URL again: that browser keeps its session.
    link = service_client.post(_links(uuid.uuid4()), {}, format="json").json()["url"]
    client, _ = _open(link)

    _, again = _open(link, client)

    assert (again.status_code, again["Location"]) == (302, "/portal/")


def test_an_expired_link_opens_nothing(service_client, webhooks_settings):
    webhooks_settings(PORTAL_LINK_SECONDS=60)
    link = service_client.post(_links(uuid.uuid4()), {}, format="json").json()["url"]

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        client, opened = _open(link)

    assert opened.status_code == 410
    assert "This link has expired" in opened.content.decode()
    assert COOKIE_NAME not in client.cookies
    assert PortalSession.objects.get().opened_at is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2],  # cut short
        lambda token: token.replace(token[2], "A" if token[2] != "A" else "B", 1),  # changed
        lambda token: "",  # missing
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_token_gets_a_clear_page(service_client, tamper):
    url = service_client.post(_links(uuid.uuid4()), {}, format="json").json()["url"]
    token = url.partition("token=")[2]

    response = Client().get("/portal/open", {"token": tamper(token)})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "This link is not valid" in response.content.decode()
    assert PortalSession.objects.get().opened_at is None


def test_the_session_ends_after_the_configured_hours(webhooks_settings):
    webhooks_settings(PORTAL_SESSION_HOURS=2)
    client = portal(uuid.uuid4())
    assert client.get("/portal/").status_code == 200

    with time_machine.travel(timezone.now() + timedelta(hours=2, seconds=1)):
        ended = client.get("/portal/")

    assert ended.status_code == 401
    assert "Your portal session has ended" in ended.content.decode()


def test_signing_out_ends_the_session():
    client = portal(uuid.uuid4())

    signed_out = client.form("/portal/sign-out")

    assert signed_out.status_code == 401
    assert client.get("/portal/").status_code == 401
    assert PortalSession.objects.get().ended_at is not None


def test_without_a_session_every_page_says_so():
    response = Client().get("/portal/")

    assert response.status_code == 401
    assert "Open the portal again from Agenta" in response.content.decode()


def test_a_forged_cookie_is_no_session():
    client = Client()
    client.cookies[COOKIE_NAME] = str(
        PortalSession.objects.create(
            project_id=uuid.uuid4(),
            link_expires_at=timezone.now(),
            opened_at=timezone.now(),
            expires_at=timezone.now() + timedelta(hours=1),
        ).id
    )  # the right id, but not signed by the service

    assert client.get("/portal/").status_code == 401


def test_the_cookie_stays_under_portal_apart_from_the_admin_session():
    client = portal(uuid.uuid4())

    cookie = client.cookies[COOKIE_NAME]

    assert cookie["path"] == "/portal/"
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert "sessionid" not in client.cookies


def test_framing_is_refused_unless_origins_are_allowed():
    response = portal(uuid.uuid4()).get("/portal/")

    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_allowed_origins_may_frame_the_portal_with_a_cross_site_cookie(webhooks_settings):
    # given Agenta's origin allowed to frame the portal
    webhooks_settings(PORTAL_FRAME_ANCESTORS=["https://cloud.agenta.ai", "'self'"])
    client = PortalClient()

    # when a link is opened and a page loaded
    client.open_link(uuid.uuid4())
    response = client.get("/portal/")

    # then only those origins may frame it, and the cookie is sent inside their frames
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors https://cloud.agenta.ai 'self'" in csp
    assert "X-Frame-Options" not in response
    cookie = client.cookies[COOKIE_NAME]
    assert (cookie["samesite"], bool(cookie["secure"])) == ("None", True)


def test_the_admin_keeps_its_frame_protection(webhooks_settings, client):
    webhooks_settings(PORTAL_FRAME_ANCESTORS=["https://cloud.agenta.ai"])

    assert client.get("/admin/login/")["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"PORTAL_LINK_SECONDS": 0}, "webhooks.E070"),
        ({"PORTAL_LINK_SECONDS": 2 * 86400}, "webhooks.E070"),
        ({"PORTAL_LINK_SECONDS": 90.5}, "webhooks.E070"),
        ({"PORTAL_SESSION_HOURS": 0}, "webhooks.E071"),
        ({"PORTAL_SESSION_HOURS": "8"}, "webhooks.E071"),
        ({"PORTAL_FRAME_ANCESTORS": "https://cloud.agenta.ai"}, "webhooks.E072"),
        ({"PORTAL_FRAME_ANCESTORS": ["cloud.agenta.ai"]}, "webhooks.E072"),
        ({"PORTAL_FRAME_ANCESTORS": ["https://a.ai; script-src *"]}, "webhooks.E072"),
    ],
)
def test_bad_portal_settings_are_rejected_with_a_hint(settings, value, expected):
    settings.WEBHOOKS = value

    errors = check_webhooks_settings()

    assert [e.id for e in errors] == [expected]
    assert errors[0].hint


def test_good_portal_settings_pass(settings):
    settings.WEBHOOKS = {
        "PORTAL_LINK_SECONDS": 300,
        "PORTAL_SESSION_HOURS": 0.5,
        "PORTAL_FRAME_ANCESTORS": ["https://*.agenta.ai", "http://localhost:3000", "'self'"],
    }

    assert check_webhooks_settings() == []
