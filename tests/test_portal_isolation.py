"""A portal session reaches only its own project, whatever ids its URLs and forms carry.

Like the API's matrix: every portal route that takes a webhook (and a delivery) id is tried with
ids of another project, a deleted webhook, and another webhook's delivery, by GET and POST.
"""

import re
import uuid

import pytest
from django.urls import URLPattern

from tests.factories import DeliveryFactory, WebhookFactory
from tests.portal_support import portal
from webhooks.models import Delivery, Webhook
from webhooks.portal import urls as portal_urls

pytestmark = pytest.mark.django_db
FORM = {
    "name": "taken over",
    "url": "https://attacker.example.com/",
    "event_types": ["*"],
    "is_active": "false",
    "since": "2020-01-01T00:00",
}


def routes_with(name: str) -> list[str]:
    """Return the portal's routes whose path takes the URL parameter name."""
    found = [
        str(pattern.pattern)
        for pattern in portal_urls.urlpatterns
        if isinstance(pattern, URLPattern) and f"<uuid:{name}>" in str(pattern.pattern)
    ]
    assert found, name
    return found


def fill(route: str, **ids) -> str:
    return "/portal/" + re.sub(r"<uuid:(\w+)>", lambda m: str(ids[m.group(1)]), route)


@pytest.fixture
def world():
    """Two projects, each with a webhook and a failed delivery; ours also a deleted webhook."""
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    own = WebhookFactory(project_id=ours, name="our hook")
    own_delivery = DeliveryFactory(webhook=own, status="failed")
    deleted = WebhookFactory(project_id=ours, name="deleted hook", deleted_at="2026-01-01T00:00Z")
    sibling = WebhookFactory(project_id=ours, name="sibling hook")
    other = WebhookFactory(project_id=theirs, name="their hook", url="https://their.example.com/")
    other_delivery = DeliveryFactory(webhook=other, status="failed")
    return {
        "client": portal(ours),
        "own": own,
        "own_delivery": own_delivery,
        "deleted": deleted,
        "sibling": sibling,
        "other": other,
        "other_delivery": other_delivery,
    }


def untouched(world) -> None:
    other = Webhook.objects.get(id=world["other"].id)
    assert (other.name, other.url, other.is_active, other.deleted_at) == (
        "their hook",
        "https://their.example.com/",
        True,
        None,
    )
    assert other.secret == world["other"].secret
    assert Delivery.objects.get(id=world["other_delivery"].id).status == "failed"
    assert Delivery.objects.filter(webhook=world["other"]).count() == 1


def assert_not_found(response, world, path) -> None:
    body = response.content.decode()
    assert response.status_code == 404, (path, response.status_code)
    assert "There is no such webhook or delivery in this project." in body
    for secret_or_name in ("their hook", "their.example.com", world["other"].secret):
        assert secret_or_name not in body, path


@pytest.mark.parametrize("route", routes_with("webhook_id"))
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("whose", ["other", "deleted"])
def test_another_project_or_a_deleted_webhook_is_not_found(world, route, method, whose):
    path = fill(route, webhook_id=world[whose].id, delivery_id=world["other_delivery"].id)
    client = world["client"]

    response = client.get(path) if method == "get" else client.form(path, FORM)

    if response.status_code == 405:  # a POST-only or GET-only page
        return
    assert_not_found(response, world, path)
    untouched(world)


@pytest.mark.parametrize("route", routes_with("delivery_id"))
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("hook", "delivery"),
    [("own", "other_delivery"), ("sibling", "own_delivery"), ("other", "own_delivery")],
)
def test_a_delivery_is_found_only_under_its_own_webhook(world, route, method, hook, delivery):
    path = fill(route, webhook_id=world[hook].id, delivery_id=world[delivery].id)
    client = world["client"]

    response = client.get(path) if method == "get" else client.form(path, FORM)

    if response.status_code == 405:
        return
    assert_not_found(response, world, path)
    untouched(world)
    assert Delivery.objects.get(id=world["own_delivery"].id).status == "failed"


def test_a_cursor_from_another_project_shows_only_our_deliveries(world):
    own = world["own"]

    page = world["client"].get(
        f"/portal/webhooks/{own.id}/deliveries", {"before": "ffffffff-ffff-7fff-bfff-ffffffffffff"}
    )

    ids = set(re.findall(r"/deliveries/([0-9a-f-]{36})", page.content.decode()))
    assert ids == {str(world["own_delivery"].id)}


def test_the_list_and_catalogue_show_nothing_of_another_project(world):
    for path in ("/portal/", "/portal/event-types"):
        body = world["client"].get(path).content.decode()
        assert "their hook" not in body and "their.example.com" not in body
