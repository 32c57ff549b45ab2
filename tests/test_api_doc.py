"""docs/api.md: its endpoint table is the URL configuration, and its examples are real answers.

Each example is a pair of `http` blocks marked `<!-- example: NAME -->`: a request, then the
answer. The test sends every request, in document order, to a database holding the objects the
document names, and compares the status, each header shown and the JSON body (where the string
… stands for any value).
"""

import io
import json
import re
import shlex
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny

from tests.conftest import SERVICE_KEY
from tests.factories import ApiKeyFactory, DeliveryFactory, EventFactory, WebhookFactory
from tests.support import matches
from webhooks.auth import ProjectAccess, ServiceOnly, required_scope
from webhooks.models import ApiKey
from webhooks.services.api_keys import create_api_key
from webhooks.views.events import AnyPrincipal
from webhooks.views.landing import api_not_found

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TABLE_ROW = re.compile(
    r"^\| (GET|POST|PUT|PATCH|DELETE) \| `(/[^`]*)` \| ([^|]+?) \| [^|]+ \|$", re.M
)
EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```http\n(.*?)\n```\n+```http\n(.*?)\n```", re.S)

# The objects the examples name (see "Errors" in docs/api.md).
PROJECT = uuid.UUID("0190a000-0000-7000-8000-000000000001")
OTHER_PROJECT = uuid.UUID("0190a000-0000-7000-8000-000000000002")
OTHER_WEBHOOK = uuid.UUID("0196f0c0-0000-7000-8000-0000000000b1")
DISABLED_WEBHOOK = uuid.UUID("0196f0c0-0000-7000-8000-0000000000a1")
DISABLED_DELIVERY = uuid.UUID("0196f0c0-0000-7000-8000-0000000000d1")
BIG_BODY = re.compile(r"^<(\d+) bytes of JSON>$")


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _access(callback, method: str) -> str:
    """Return the access column the table should show for method on this view."""
    view_class = getattr(callback, "cls", None)
    if view_class is None:  # a plain Django view: the health probes
        return "public"
    view = view_class(**getattr(callback, "initkwargs", {}))
    actions = getattr(callback, "actions", None)
    if actions:
        view.action = actions[method.lower()]
    permissions = set(view.permission_classes)
    if AllowAny in permissions:
        return "public"
    if ServiceOnly in permissions:
        return "service key"
    if AnyPrincipal in permissions:
        return "any credential"
    assert ProjectAccess in permissions, f"{view_class.__name__}: unknown permission classes"
    scope = required_scope(view, method)
    return f"`{scope}`" if scope else "service key"


def served() -> dict[tuple[str, str], str]:
    """Return {(method, path): access} for every route but the admin's and the portal's pages."""
    found = {}
    for route, callback in _routes(get_resolver().url_patterns):
        if route.startswith(("admin/", "portal/")) or callback is api_not_found:
            continue  # api_not_found: the JSON 404 of every /api/ path no route matched
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        actions = getattr(callback, "actions", None)
        view_class = getattr(callback, "cls", None)
        if actions:
            methods = [m for m in HTTP_METHODS if m.lower() in actions]
        elif view_class is not None:
            methods = [m for m in HTTP_METHODS if hasattr(view_class, m.lower())]
        else:
            methods = ["GET"]
        for method in methods:
            found[(method, path)] = _access(callback, method)
    return found


def documented() -> dict[tuple[str, str], str]:
    rows = TABLE_ROW.findall(DOC.read_text())
    table = {(method, path): access for method, path, access in rows}
    assert len(table) == len(rows), "an endpoint is listed twice"
    return table


def test_the_endpoint_table_lists_every_route_with_its_access():
    table, routes = documented(), served()

    assert sorted(set(routes) - set(table)) == [], "served but not documented"
    assert sorted(set(table) - set(routes)) == [], "documented but not served"
    wrong = {key: (table[key], routes[key]) for key in routes if table[key] != routes[key]}
    assert wrong == {}, "documented access (left) differs from the code's (right)"


@pytest.fixture
def credentials(db) -> dict[str, str]:
    """Create the examples' objects; return the values of the document's placeholders."""
    _, key = create_api_key(PROJECT, "docs", ["webhooks:read", "webhooks:write", "events:emit"])
    _, read_key = create_api_key(PROJECT, "docs read-only", ["webhooks:read"])
    WebhookFactory(id=OTHER_WEBHOOK, project_id=OTHER_PROJECT)
    disabled = WebhookFactory(
        id=DISABLED_WEBHOOK, project_id=PROJECT, is_active=False, disabled_reason="HTTP 410 Gone"
    )
    DeliveryFactory(
        id=DISABLED_DELIVERY,
        webhook=disabled,
        event=EventFactory(project_id=PROJECT),
        status="failed",
    )
    return {"<KEY>": key, "<READ_KEY>": read_key, "<SERVICE_KEY>": SERVICE_KEY}


def parse_request(text: str, credentials: dict[str, str]) -> tuple[str, str, dict, bytes]:
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, path, _ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in header_lines)
    for name, value in headers.items():
        for placeholder, secret in credentials.items():
            value = value.replace(placeholder, secret)
        assert "<" not in value, f"unknown placeholder in {name}: {value}"
        headers[name] = value
    big = BIG_BODY.match(body)
    if big:  # a JSON document of exactly that many bytes
        size = int(big.group(1))
        prefix = '{"type": "config.deployed", "data": {"padding": "'
        body = prefix + "x" * (size - len(prefix) - 3) + '"}}'
    return method, path, headers, body.encode()


def examples() -> list[tuple[str, str, str]]:
    found = EXAMPLE.findall(DOC.read_text())
    assert len(found) >= 10, "docs/api.md lost its examples"
    return found


@pytest.mark.django_db
def test_every_example_answers_as_documented(credentials, settings):
    settings.WEBHOOKS = {}  # production defaults: https only, public destinations only
    client = Client()
    differences = []
    for name, request_text, response_text in examples():
        # given the documented request
        method, path, headers, body = parse_request(request_text, credentials)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        # when it is sent
        response = client.generic(method, path, body, content_type, headers=headers)
        # then the answer is the documented one
        head, _, shown_body = response_text.partition("\n\n")
        status_line, *header_lines = head.splitlines()
        code = int(status_line.split(" ")[1])
        # The reason phrase differs between Python versions (413 was renamed in 3.13).
        assert status_line.startswith(f"HTTP/1.1 {code} "), name
        actual_body = json.loads(response.content) if response.content else None
        expected_body = json.loads(shown_body) if shown_body else None
        shown_headers = dict(line.split(": ", 1) for line in header_lines)
        actual_headers = {name: response.headers.get(name) for name in shown_headers}
        if (
            response.status_code != code
            or actual_headers != shown_headers
            or not matches(expected_body, actual_body)
        ):
            differences.append((name, response.status_code, actual_headers, actual_body))
    assert differences == [], "\n".join(json.dumps(d, ensure_ascii=False) for d in differences)


def test_the_documented_schema_command_writes_the_schema(tmp_path, monkeypatch):
    command = re.search(r"^\.venv/bin/python manage\.py (spectacular .*)$", DOC.read_text(), re.M)
    assert command, "docs/api.md should show how to write the schema to a file"
    monkeypatch.chdir(tmp_path)

    call_command(*command.group(1).split())

    written = list(tmp_path.iterdir())
    assert len(written) == 1
    assert written[0].read_text().startswith("openapi: 3.")


def test_the_pages_are_public_and_the_schema_names_the_three_schemes(client):
    schema = client.get("/api/schema/?format=json").json()
    docs_page = client.get("/api/docs/")

    schemes = set(schema["components"]["securitySchemes"])
    assert schemes == {"ServiceKey", "ProjectApiKey", "StaffSession"}
    for name in schemes:
        assert f"(`{name}`)" in DOC.read_text()
    assert docs_page.status_code == 200
    # Served by the service itself (as the page says), so it works without internet access.
    assert b"cdn.jsdelivr.net" not in docs_page.content
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs_page.content
    assert "served by the service itself" in DOC.read_text()


@pytest.mark.django_db
def test_the_documented_key_commands_create_and_revoke_keys():
    lines = re.findall(
        r"^\.venv/bin/python manage\.py (webhooks_\w+_api_key .*)$", DOC.read_text(), re.M
    )
    create, revoke = (shlex.split(line) for line in lines)
    out = io.StringIO()

    call_command(*create, stdout=out, stderr=io.StringIO())
    key = ApiKey.objects.get(prefix=out.getvalue().strip().partition(".")[0])
    assert (key.name, key.scopes) == ("ci", ["events:emit", "webhooks:read"])
    assert str(key.project_id) == create[create.index("--project") + 1]

    revoked = ApiKeyFactory(prefix=revoke[1])
    call_command(*revoke, stdout=io.StringIO())
    revoked.refresh_from_db()
    assert revoked.revoked_at is not None
