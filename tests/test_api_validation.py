"""Bad input to the webhook API: clear 400s (413 for huge bodies), never a 500, nothing written."""

import io
import json
import socket
import threading
import uuid

import pytest
from django.core.exceptions import RequestDataTooBig
from django.db import connection

from tests.factories import WebhookFactory
from webhooks.models import Webhook
from webhooks.parsers import JSONParser
from webhooks.services.webhooks import WebhookLimitReached, create_webhook

pytestmark = pytest.mark.django_db

PROJECT = uuid.UUID("0190f3c2-0000-7000-8000-0000000000cc")
LIST_URL = f"/api/projects/{PROJECT}/webhooks"
VALID = {"name": "hook", "url": "https://hooks.example.com/agenta"}


@pytest.fixture
def client(make_key_client):
    return make_key_client(PROJECT)


@pytest.fixture
def public_only(settings, monkeypatch):
    """Production destination policy, with DNS stubbed (one private name)."""
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": False}
    answers = {"hooks.example.com": "93.184.216.34", "internal.example.com": "10.0.0.5"}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _create(client, **changes):
    return client.post(LIST_URL, {**VALID, **changes}, format="json")


def _assert_refused(response, field: str, *fragments: str) -> None:
    assert response.status_code == 400, response.content
    messages = response.json()[field]
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    text = " ".join(messages)
    for fragment in fragments:
        assert fragment in text, text
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://169.254.169.254/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://localhost", "loopback"),
        ("https://internal.example.com/hook", "10.0.0.5"),
        ("http://192.168.0.10:8080/", "private"),
    ],
)
def test_private_destinations_are_refused(client, public_only, url, fragment):
    _assert_refused(_create(client, url=url), "url", fragment)


def test_public_destination_is_accepted_under_the_production_policy(client, public_only):
    assert _create(client, url="https://hooks.example.com/x").status_code == 201


def test_https_is_required_when_configured(client, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "REQUIRE_HTTPS": True}
    _assert_refused(_create(client, url="http://hooks.example.com/"), "url", "https")
    assert _create(client, url="https://hooks.example.com/").status_code == 201


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://hooks.example.com/", "http"),
        ("https://user:secret@hooks.example.com/", "password"),
        ("https://hooks.example.com/" + "x" * 2030, "2048"),
        ("not a url", "spaces"),
        ("", "blank"),
        (42, "valid string"),
        (None, "null"),
    ],
)
def test_malformed_urls_are_refused(client, url, fragment):
    _assert_refused(_create(client, url=url), "url", fragment)


@pytest.mark.parametrize(
    ("event_types", "fragment"),
    [
        (["config.deployed", "config.exploded"], "config.exploded"),
        ([], "at least one"),
        ("config.deployed", "list"),
        ([1, 2], "list"),
    ],
)
def test_event_types_must_be_known(client, event_types, fragment):
    _assert_refused(_create(client, event_types=event_types), "event_types", fragment)


def test_event_types_are_deduplicated_and_the_wildcard_stands_alone(client):
    dup = _create(client, event_types=["config.committed", "config.committed"]).json()
    assert dup["event_types"] == ["config.committed"]
    star = _create(client, event_types=["config.deployed", "*"]).json()
    assert star["event_types"] == ["*"]


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"projects": ["x"]}, "projects"),
        ({"applications": "support-bot"}, "filters.applications"),
        ({"environments": [1]}, "filters.environments"),
        ({"environments": [""]}, "filters.environments"),
        (["production"], "object"),
    ],
)
def test_filters_are_lists_of_strings(client, filters, fragment):
    _assert_refused(_create(client, filters=filters), "filters", fragment)


def test_partial_filters_are_completed(client):
    body = _create(client, filters={"environments": ["production"]}).json()
    assert body["filters"] == {"applications": [], "environments": ["production"]}


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"Content-Type": "text/plain"}, "reserved"),
        ({"content-length": "5"}, "reserved"),
        ({"Host": "evil.example"}, "reserved"),
        ({"User-Agent": "me"}, "reserved"),
        ({"Webhook-Signature": "v1,forged"}, "reserved"),
        ({"X-Agenta-Event": "config.deployed"}, "reserved"),
        ({"Transfer-Encoding": "chunked"}, "reserved"),
        ({"X-Ok": "a\r\nX-Injected: 1"}, "line breaks"),
        ({"X-Ok": "a\nb"}, "line breaks"),
        ({"Bad Name": "x"}, "valid header name"),
        ({"X-Colon:": "x"}, "valid header name"),
        ({"X-Number": 5}, "string"),
        ({"X-Team": "a", "x-team": "b"}, "twice"),
        ({f"X-H{i}": "v" for i in range(21)}, "At most 20"),
        (["X-Team: ml"], "object"),
    ],
)
def test_headers_are_checked(client, headers, fragment):
    _assert_refused(_create(client, headers=headers), "headers", fragment)


def test_authorization_and_twenty_custom_headers_are_allowed(client):
    headers = {"Authorization": "Bearer s3cr3t"} | {f"X-H{i}": "v" for i in range(19)}
    response = _create(client, headers=headers)
    assert response.status_code == 201
    assert response.json()["headers"] == headers | {"Authorization": "[redacted]"}


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({**VALID, "color": "blue"}, "color", "Unknown field"),
        ({**VALID, "secret": "whsec_mine"}, "secret", "Unknown field"),
        ({**VALID, "project_id": str(uuid.uuid4())}, "project_id", "read-only"),
        ({**VALID, "name": 123}, "name", "valid string"),
        ({**VALID, "name": "  "}, "name", "blank"),
        ({**VALID, "name": "n" * 201}, "name", "200"),
        ({**VALID, "is_active": "yes"}, "is_active", "boolean"),
        ({"url": VALID["url"]}, "name", "required"),
        ([VALID], "non_field_errors", "dictionary"),
    ],
)
def test_unknown_fields_and_wrong_types_are_refused(client, body, field, fragment):
    _assert_refused(client.post(LIST_URL, body, format="json"), field, fragment)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"name": "x", "url": ', b"[" * 100_000, b'{"name": NaN}', b"\xff\xfe"],
)
def test_malformed_json_answers_400_with_a_detail(client, raw):
    response = client.generic("POST", LIST_URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not Webhook.objects.exists()


def test_non_json_content_type_answers_415(client):
    response = client.post(LIST_URL, VALID)  # multipart form
    assert response.status_code == 415
    assert "detail" in response.json()


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_body_over_one_mebibyte_answers_413_json(client, method):
    webhook = WebhookFactory(project_id=PROJECT)
    url = LIST_URL if method == "POST" else f"{LIST_URL}/{webhook.id}"
    body = json.dumps({**VALID, "description": "d" * (1024 * 1024)}).encode()
    response = client.generic(method, url, body, content_type="application/json")
    assert response.status_code == 413
    assert "1048576 bytes" in response.json()["detail"]
    assert Webhook.objects.count() == 1


def test_parser_enforces_the_limit_on_the_stream_without_a_content_length():
    big = json.dumps({"description": "d" * (1024 * 1024)}).encode()
    with pytest.raises(RequestDataTooBig):
        JSONParser().parse(io.BytesIO(big), "application/json", {})
    near = json.dumps({"description": "d" * (1024 * 1024 - 100)}).encode()
    assert len(JSONParser().parse(io.BytesIO(near), "application/json", {})["description"]) > 0


def test_webhook_limit_per_project_answers_400_that_says_so(client, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_WEBHOOKS_PER_PROJECT": 2}
    assert _create(client).status_code == 201
    second = _create(client).json()
    third = _create(client)
    assert third.status_code == 400
    assert "most allowed (2)" in third.json()["non_field_errors"][0]
    assert Webhook.objects.filter(project_id=PROJECT).count() == 2
    # Deleted webhooks don't count, and other projects have their own limit.
    client.delete(f"{LIST_URL}/{second['id']}")
    assert _create(client).status_code == 201
    WebhookFactory.create_batch(2, project_id=uuid.uuid4())


def test_patch_validates_like_create_and_changes_nothing_on_error(client, public_only):
    webhook = WebhookFactory(project_id=PROJECT, url="https://hooks.example.com/a")
    for body, field in [
        ({"url": "http://169.254.169.254/"}, "url"),
        ({"name": "ok", "headers": {"Host": "x"}}, "headers"),
        ({"event_types": ["nope"]}, "event_types"),
        ({"id": str(uuid.uuid4())}, "id"),
    ]:
        response = client.patch(f"{LIST_URL}/{webhook.id}", body, format="json")
        assert response.status_code == 400
        assert field in response.json()
    before = (webhook.url, webhook.name, webhook.event_types, webhook.updated_at)
    webhook.refresh_from_db()
    assert (webhook.url, webhook.name, webhook.event_types, webhook.updated_at) == before
    assert webhook.headers == {}


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_cannot_exceed_the_limit(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_WEBHOOKS_PER_PROJECT": 1}
    barrier, outcomes = threading.Barrier(4), []

    def create():
        try:
            barrier.wait(timeout=10)
            create_webhook(PROJECT, name="racer", url=VALID["url"])
            outcomes.append("created")
        except WebhookLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert Webhook.objects.filter(project_id=PROJECT).count() == 1


@pytest.mark.django_db
def test_an_unreachable_database_answers_503_with_retry_after(service_client, monkeypatch):
    from django.db import OperationalError

    from webhooks.views import events as event_views

    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(event_views, "emit_webhook_event", database_down)
    response = service_client.post(
        f"/api/projects/{uuid.uuid4()}/events",
        {"type": "config.deployed", "data": {}},
        format="json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Retry" in response.json()["detail"]
