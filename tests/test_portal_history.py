"""The portal's history: recent deliveries, the next attempt, search by id and day, and the
project's events across its webhooks."""

import html
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.portal_support import portal
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db
NOTHING = "\N{EN DASH}"  # what an empty cell shows


def text(response) -> str:
    """Return the page's visible text, tags stripped and spaces collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def shown_ids(response) -> list[str]:
    return re.findall(r"/deliveries/([0-9a-f-]{36})", response.content.decode())


@pytest.fixture
def project():
    return uuid.uuid4()


@pytest.fixture
def hook(project):
    return WebhookFactory(project_id=project, name="deploys")


def delivery_of(hook, **fields) -> Delivery:
    return DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id), **fields)


def test_the_webhook_page_lists_its_recent_deliveries_with_the_next_attempt(project, hook):
    due = timezone.now() + timedelta(minutes=5)
    retrying = delivery_of(hook, status="pending", attempt_count=2, next_attempt_at=due)
    done = delivery_of(hook, status="succeeded", attempt_count=1, last_status_code=200)

    page = portal(project, role="read_only").get(f"/portal/webhooks/{hook.id}")

    assert shown_ids(page)[:2] == [str(done.id), str(retrying.id)]  # newest first
    shown = text(page)
    assert "Recent deliveries" in shown and "Next attempt" in shown
    when = timezone.localtime(retrying.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f"{when} UTC (in 4 minutes)" in shown or f"{when} UTC (in 5 minutes)" in shown


@pytest.mark.parametrize(
    ("status", "next_attempt", "shown"),
    [
        ("pending", -60, "due now"),
        ("delivering", None, "in progress"),
        ("failed", None, NOTHING),
        ("succeeded", None, NOTHING),
    ],
)
def test_the_next_attempt_column_says_when(project, hook, status, next_attempt, shown):
    due = timezone.now() + timedelta(seconds=next_attempt) if next_attempt else None
    delivery_of(hook, status=status, next_attempt_at=due)

    page = portal(project).get(f"/portal/webhooks/{hook.id}/deliveries").content.decode()

    (cell,) = re.findall(r'class="next-attempt">([^<]*)<', page)
    assert cell == shown


def test_deliveries_are_found_by_webhook_id_or_event_id(project, hook):
    wanted, other = delivery_of(hook), delivery_of(hook)
    client = portal(project)
    url = f"/portal/webhooks/{hook.id}/deliveries"

    by_webhook_id = client.get(url, {"search": f" {wanted.id} "})
    by_event_id = client.get(url, {"search": str(wanted.event_id)})
    nothing = client.get(url, {"search": str(uuid.uuid4())})

    assert shown_ids(by_webhook_id) == shown_ids(by_event_id) == [str(wanted.id)]
    assert str(other.id) not in by_event_id.content.decode()
    assert "No deliveries match." in text(nothing)


def test_a_search_that_is_not_an_id_answers_400_with_the_field_message(project, hook):
    response = portal(project).get(f"/portal/webhooks/{hook.id}/deliveries", {"search": "abc"})

    assert response.status_code == 400
    assert "Paste an event id or a delivery's webhook-id header" in text(response)


def test_deliveries_filter_by_day_the_last_one_included(project, hook):
    now = timezone.now()
    ages = {"last week": 7, "yesterday": 1, "today": 0}  # made in this order, as ids go
    made = {}
    for name, days in ages.items():
        made[name] = delivery_of(hook)
        Delivery.objects.filter(id=made[name].id).update(created_at=now - timedelta(days=days))
    yesterday = (now - timedelta(days=1)).date().isoformat()
    client = portal(project)
    url = f"/portal/webhooks/{hook.id}/deliveries"

    one_day = client.get(url, {"created_from": yesterday, "created_to": yesterday})
    since = client.get(url, {"created_from": yesterday})
    backwards = client.get(url, {"created_from": now.date().isoformat(), "created_to": yesterday})

    assert shown_ids(one_day) == [str(made["yesterday"].id)]
    assert shown_ids(since) == [str(made["today"].id), str(made["yesterday"].id)]
    assert backwards.status_code == 400
    assert "Pick a day on or after the first one." in text(backwards)


def test_the_events_page_shows_which_webhooks_got_each_event(project, hook):
    other = WebhookFactory(project_id=project, name="audit log")
    gone = WebhookFactory(project_id=project, name="old one", deleted_at=timezone.now())
    event = EventFactory(project_id=project, type="config.deployed")
    DeliveryFactory(webhook=hook, event=event, status="succeeded")
    failing = DeliveryFactory(webhook=other, event=event, status="pending", attempt_count=3)
    DeliveryFactory(webhook=gone, event=event, status="failed")
    lonely = EventFactory(project_id=project, type="variant.created")
    EventFactory(type="config.deployed")  # another project's

    page = portal(project, role="read_only").get("/portal/events")

    shown = text(page)
    assert page.status_code == 200
    assert str(event.id) in shown and str(lonely.id) in shown
    assert Event.objects.count() == 3 and shown.count("</option>") == 0
    assert page.content.decode().count("<code>config.deployed</code>") == 1  # not another's
    assert "audit log pending 3 attempts" in shown
    assert "deploys succeeded" in shown
    assert "old one (deleted) failed" in shown
    assert f"/portal/webhooks/{other.id}/deliveries/{failing.id}" in page.content.decode()
    assert "no webhook subscribed" in shown


def test_the_events_page_finds_an_event_by_its_id_or_a_delivery_id(project, hook):
    wanted, other = delivery_of(hook), delivery_of(hook)
    client = portal(project)

    for search in (wanted.event_id, wanted.id):
        page = client.get("/portal/events", {"search": str(search)})
        assert str(wanted.event_id) in text(page)
        assert str(other.event_id) not in text(page)


def test_the_events_page_is_three_queries_whatever_it_holds(project):
    client = portal(project)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/portal/events").status_code == 200
        return len(captured.captured_queries)

    hooks = [WebhookFactory(project_id=project) for _ in range(3)]
    event = EventFactory(project_id=project)
    DeliveryFactory(webhook=hooks[0], event=event)
    few = queries()
    for _ in range(12):
        event = EventFactory(project_id=project)
        for webhook in hooks:
            DeliveryFactory(webhook=webhook, event=event)
    many = queries()

    assert few == many == 3  # the session, the events, their deliveries with their webhooks


def test_the_events_page_pages_back_in_time(project, hook, monkeypatch):
    monkeypatch.setattr("webhooks.portal.views.events.PAGE_SIZE", 2)
    made = [EventFactory(project_id=project) for _ in range(3)]
    client = portal(project)

    first = client.get("/portal/events")
    older = re.search(r'href="\?([^"]+)">Older events', first.content.decode()).group(1)
    second = client.get(f"/portal/events?{older.replace('&amp;', '&')}")

    assert str(made[2].id) in text(first) and str(made[1].id) in text(first)
    assert str(made[0].id) in text(second) and str(made[1].id) not in text(second)
    assert "Older events" not in text(second)


@pytest.mark.parametrize("page", ["", "/deliveries"])
def test_a_webhook_page_costs_the_same_queries_with_1_or_20_deliveries(project, hook, page):
    client = portal(project)
    url = f"/portal/webhooks/{hook.id}{page}"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    delivery_of(hook)
    one = queries()
    for _ in range(19):
        delivery_of(hook, status="pending", next_attempt_at=timezone.now())

    assert queries() == one
