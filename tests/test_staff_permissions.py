"""Staff sessions get the Django permissions they hold: each permission against each endpoint.

A staff user holding every permission of the app except the one an endpoint needs gets 403
there; granted that one permission, the endpoint answers. Emitting events and the /api/admin/
operations name no permission: only the service key and superusers may call them.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.events import EVENT_TYPES

pytestmark = pytest.mark.django_db

SUPERUSER_ONLY = None
# (name, method, path under the webhook or project, body, the permission it needs)
ENDPOINTS = [
    ("list webhooks", "get", "{project}/webhooks", None, "view_webhook"),
    ("create webhook", "post", "{project}/webhooks", {"name": "x", "url": "URL"}, "add_webhook"),
    ("show webhook", "get", "{webhook}", None, "view_webhook"),
    ("change webhook", "patch", "{webhook}", {"name": "renamed"}, "change_webhook"),
    ("delete webhook", "delete", "{webhook}", None, "delete_webhook"),
    ("read secret", "get", "{webhook}/secret", None, "change_webhook"),
    ("regenerate secret", "post", "{webhook}/regenerate-secret", {}, "change_webhook"),
    ("send test ping", "post", "{webhook}/test", None, "change_webhook"),
    ("stats", "get", "{webhook}/stats", None, "view_webhook"),
    ("list deliveries", "get", "{webhook}/deliveries", None, "view_delivery"),
    ("show delivery", "get", "{webhook}/deliveries/{delivery}", None, "view_delivery"),
    ("retry delivery", "post", "{webhook}/deliveries/{delivery}/retry", None, "change_delivery"),
    ("recover", "post", "{webhook}/recover", {"since": "SINCE"}, "change_delivery"),
    ("list events", "get", "{project}/events", None, "view_event"),
    ("show event", "get", "{project}/events/{event}", None, "view_event"),
    (
        "emit event",
        "post",
        "{project}/events",
        {"type": "variant.deleted", "data": EVENT_TYPES["variant.deleted"].example},
        SUPERUSER_ONLY,
    ),
    ("cleanup", "post", "/api/admin/webhooks/cleanup", None, SUPERUSER_ONLY),
    ("retry stuck", "post", "/api/admin/webhooks/retry-stuck", None, SUPERUSER_ONLY),
]


@pytest.fixture
def request_to(receiver, woken):
    """Return a function: (staff user, endpoint) -> the response to that user's request."""
    webhook = WebhookFactory(url=receiver.url())
    delivery = DeliveryFactory(webhook=webhook, status="failed")
    project = f"/api/projects/{webhook.project_id}"
    ids = {
        "project": project,
        "webhook": f"{project}/webhooks/{webhook.id}",
        "delivery": delivery.id,
        "event": delivery.event_id,
    }
    values = {"URL": receiver.url(), "SINCE": delivery.created_at.isoformat()}

    def send(user, endpoint):
        _, method, path, body, _ = endpoint
        client = APIClient()
        client.force_login(user)
        if body is not None:
            body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        return getattr(client, method)(path.format(**ids), body, format="json")

    return send


def _staff(*codenames, superuser: bool = False):
    user = get_user_model().objects.create_user(
        f"staff{get_user_model().objects.count()}", is_staff=True, is_superuser=superuser
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def _every_permission_but(codename) -> list[str]:
    everything = Permission.objects.filter(content_type__app_label="webhooks")
    return [perm.codename for perm in everything if perm.codename != codename]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_each_endpoint_needs_its_permission_and_that_one_suffices(request_to, endpoint):
    needed = endpoint[-1]

    refused = request_to(_staff(*_every_permission_but(needed)), endpoint)
    allowed = request_to(_staff(needed) if needed else _staff(superuser=True), endpoint)

    assert refused.status_code == 403, refused.content
    assert "detail" in refused.json()
    assert allowed.status_code < 300 or allowed.status_code == 409, allowed.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_staff_without_permissions_are_refused_everywhere(request_to, endpoint):
    assert request_to(_staff(), endpoint).status_code == 403


def test_a_view_permission_does_not_reveal_the_secret_or_the_whole_url(request_to):
    user = _staff("view_webhook")
    show = next(e for e in ENDPOINTS if e[0] == "show webhook")
    secret = next(e for e in ENDPOINTS if e[0] == "read secret")

    shown = request_to(user, show).json()

    assert request_to(user, secret).status_code == 403
    assert shown["url"].endswith("/…")
