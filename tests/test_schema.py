"""The OpenAPI schema: generated without warnings, valid, and documenting every API endpoint."""

import json
import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS

# The schema and its viewer describe the others; api-not-found answers what no route matched.
NOT_DOCUMENTED = {"schema", "api-docs", "api-not-found"}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """The schema as `manage.py spectacular --fail-on-warn --validate` writes it."""
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    GENERATOR_STATS.reset()
    call_command(
        "spectacular",
        "--fail-on-warn",
        "--validate",
        "--format",
        "openapi-json",
        "--file",
        str(path),
    )
    return json.loads(path.read_text())


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _api_routes() -> dict[str, object]:
    routes = {}
    for route, pattern in _routes(get_resolver().url_patterns):
        if route.startswith("api/") and pattern.name not in NOT_DOCUMENTED:
            # Django's <uuid:project_id> is OpenAPI's {project_id}.
            routes["/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = pattern.callback
    return routes


def _methods(callback) -> set[str]:
    actions = getattr(callback, "actions", None)  # viewsets routed with as_view({...})
    if actions:
        return set(actions) & HTTP_METHODS  # DRF adds "head" after the first GET
    view_class = callback.cls
    return {m for m in HTTP_METHODS if hasattr(view_class, m)}


def test_every_api_url_and_method_is_documented(schema):
    routes = _api_routes()
    assert "/api/projects/{project_id}/webhooks/{webhook_id}/regenerate-secret" in routes
    for path, callback in routes.items():
        assert path in schema["paths"], f"{path} is missing from the OpenAPI schema"
        documented = set(schema["paths"][path]) & HTTP_METHODS
        assert _methods(callback) <= documented, path


def test_both_authentication_schemes_are_documented_on_every_operation(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ServiceKey"]["name"] == "Authorization"
    assert "Access <WEBHOOKS_AUTH_KEY>" in schemes["ServiceKey"]["description"]
    assert "ApiKey <prefix>.<secret>" in schemes["ProjectApiKey"]["description"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {name for requirement in operation["security"] for name in requirement}
            assert {"ServiceKey"} <= names, f"{method} {path}"


def test_error_shape_is_documented(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["properties"]["detail"]["type"] == "string"
    assert components["ValidationError"]["type"] == "object"
    create = schema["paths"]["/api/projects/{project_id}/webhooks"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "413"} <= set(create)
    refs = json.dumps(create["400"])
    assert "#/components/schemas/ValidationError" in refs
    assert "#/components/schemas/Error" in refs
    detail = schema["paths"]["/api/projects/{project_id}/webhooks/{webhook_id}"]
    assert detail["get"]["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_secret_is_documented_only_where_it_is_shown(schema):
    components = schema["components"]["schemas"]
    assert "secret" not in components["Webhook"]["properties"]
    assert "secret" not in components["WebhookRequest"]["properties"]
    assert "secret" in components["WebhookWithSecret"]["properties"]
    assert "previous_secret_expires_at" in components["RegeneratedSecret"]["properties"]
    secret_op = schema["paths"]["/api/projects/{project_id}/webhooks/{webhook_id}/secret"]["get"]
    assert "webhooks:write" in secret_op["description"]


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/projects/{project_id}/webhooks" in response.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_every_operation_has_a_named_tag_and_a_summary(schema):
    # drf-spectacular files an operation with no tag under the path's first segment: "api"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            assert operation.get("tags") and "api" not in operation["tags"], name
            assert operation.get("summary", "").strip(), name
    tags = {tag for ops in schema["paths"].values() for op in ops.values() for tag in op["tags"]}
    assert {"webhooks", "deliveries", "events", "operations"} <= tags


def test_the_delivery_and_attempt_triggers_are_documented(schema):
    components = schema["components"]["schemas"]
    for name in ("Delivery", "DeliveryAttempt", "DeliverySummary"):
        trigger = components[name]["properties"]["trigger"]
        assert "what started" in trigger["description"].lower(), name
    assert components["TriggerEnum"]["enum"] == ["auto", "manual", "test", "recover"]
