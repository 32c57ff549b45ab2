"""Portal pages: every page and action, through the same services as the API."""

import logging
import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from tests.portal_support import portal
from tests.receiver import Reply
from webhooks.events import EVENT_TYPES
from webhooks.models import Delivery, Webhook
from webhooks.portal.access import CSRF_FIELD

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    """Return the page's visible text, tags stripped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def project():
    return uuid.uuid4()


@pytest.fixture
def hook(project):
    return WebhookFactory(project_id=project, name="deploys", headers={"Authorization": "Bearer t"})


def new_webhook(**fields) -> dict:
    return {
        "name": "to staging",
        "url": "https://hooks.example.com/agenta",
        "event_types": ["config.deployed"],
        "applications": "support-bot, faq",
        "environments": "",
        "headers": "X-Team: ml\nAuthorization: Bearer abc",
        **fields,
    }


def test_the_list_shows_the_project_webhooks_only(project, hook):
    WebhookFactory(name="someone else's")
    WebhookFactory(project_id=project, name="gone", deleted_at=timezone.now())

    page = portal(project).get("/portal/")

    assert page.status_code == 200
    assert "deploys" in text(page)
    assert "someone else's" not in text(page) and "gone" not in text(page)


def test_creating_a_webhook_uses_the_api_rules(project):
    client = portal(project)
    assert client.get("/portal/webhooks/new").status_code == 200

    created = client.form("/portal/webhooks/new", new_webhook())

    webhook = Webhook.objects.get(project_id=project)
    assert created.status_code == 302
    assert created["Location"] == f"/portal/webhooks/{webhook.id}?notice=created"
    assert (webhook.name, webhook.url, webhook.event_types) == (
        "to staging",
        "https://hooks.example.com/agenta",
        ["config.deployed"],
    )
    assert webhook.filters == {"applications": ["support-bot", "faq"], "environments": []}
    assert webhook.headers == {"X-Team": "ml", "Authorization": "Bearer abc"}
    assert webhook.secret.startswith("whsec_")
    shown = client.get(created["Location"])
    assert "Webhook created" in text(shown)
    assert "Bearer abc" not in shown.content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://example.com"}, "Use an http:// or https:// URL."),
        ({"url": "https://u:p@example.com/"}, "may not contain a user name or password"),
        ({"name": ""}, "This field is required."),
        ({"event_types": []}, "This field is required."),
        ({"event_types": ["nope.happened"]}, "Select a valid choice"),
        ({"headers": "X-Agenta-Event: forged"}, "is reserved"),
        ({"headers": "no colon here"}, "Line 1: write a header as Name: value."),
        ({"applications": "x" * 300}, "filters"),
        ({"max_in_flight": "0"}, "greater than or equal to 1"),
        ({"max_in_flight": "33"}, "less than or equal to 32"),
    ],
)
def test_a_bad_webhook_form_answers_400_with_the_field_message(project, fields, message):
    response = portal(project).form("/portal/webhooks/new", new_webhook(**fields))

    assert response.status_code == 400
    assert message.lower() in text(response).lower()
    assert not Webhook.objects.filter(project_id=project).exists()


def test_the_webhook_limit_is_the_api_limit(project, webhooks_settings):
    webhooks_settings(MAX_WEBHOOKS_PER_PROJECT=1)
    WebhookFactory(project_id=project)

    response = portal(project).form("/portal/webhooks/new", new_webhook())

    assert response.status_code == 400
    assert "the most allowed (1)" in text(response)


def test_editing_keeps_a_redacted_header_and_changes_the_rest(project, hook):
    client = portal(project)
    form = client.get(f"/portal/webhooks/{hook.id}/edit")
    assert "Authorization: [redacted]" in form.content.decode()
    assert "Bearer t" not in form.content.decode()

    saved = client.form(
        f"/portal/webhooks/{hook.id}/edit",
        new_webhook(name="renamed", headers="Authorization: [redacted]\nX-Env: prod"),
    )

    assert saved.status_code == 302
    hook.refresh_from_db()
    assert hook.name == "renamed"
    assert hook.headers == {"Authorization": "Bearer t", "X-Env": "prod"}


def test_the_in_flight_cap_is_set_and_cleared_in_the_form(project, hook):
    client = portal(project)
    saved = client.form(f"/portal/webhooks/{hook.id}/edit", new_webhook(max_in_flight="2"))
    assert saved.status_code == 302
    hook.refresh_from_db()
    assert hook.max_in_flight == 2
    assert "Requests at once 2" in text(client.get(f"/portal/webhooks/{hook.id}"))
    client.form(f"/portal/webhooks/{hook.id}/edit", new_webhook(max_in_flight=""))
    hook.refresh_from_db()
    assert hook.max_in_flight is None


def test_the_webhook_page_shows_the_circuit_breaker(project, hook):
    assert "Circuit breaker: closed (0 failures in a row)." in text(
        portal(project).get(f"/portal/webhooks/{hook.id}")
    )
    Webhook.objects.filter(pk=hook.pk).update(
        consecutive_failures=3, circuit_open_since=timezone.now()
    )
    page = text(portal(project).get(f"/portal/webhooks/{hook.id}"))
    assert "after 3 failures in a row: one request at a time until one succeeds." in page


def test_a_cap_above_the_projects_is_refused_with_the_field_message(project, hook):
    answer = portal(project).form(
        f"/portal/webhooks/{hook.id}/edit", new_webhook(max_in_flight="9")
    )
    assert answer.status_code == 400
    assert "capped at 8" in text(answer)


def test_disabling_and_enabling(project, hook):
    client = portal(project)

    client.form(f"/portal/webhooks/{hook.id}/active", {"is_active": "false"})
    hook.refresh_from_db()
    assert (hook.is_active, hook.disabled_reason) == (False, "Disabled by a user.")

    enabled = client.form(f"/portal/webhooks/{hook.id}/active", {"is_active": "true"})
    hook.refresh_from_db()
    assert hook.is_active
    assert "Webhook enabled" in text(client.get(enabled["Location"]))


def test_deleting_asks_first_and_keeps_the_history(project, hook):
    DeliveryFactory(webhook=hook)
    client = portal(project)
    assert "Delete deploys?" in text(client.get(f"/portal/webhooks/{hook.id}/delete"))

    deleted = client.form(f"/portal/webhooks/{hook.id}/delete")

    assert deleted["Location"] == "/portal/?notice=deleted"
    hook.refresh_from_db()
    assert hook.deleted_at is not None
    assert Delivery.objects.filter(webhook=hook).count() == 1
    assert client.get(f"/portal/webhooks/{hook.id}").status_code == 404


def test_revealing_the_secret_asks_first_and_is_recorded(project, hook, caplog):
    client = portal(project)
    confirm = client.get(f"/portal/webhooks/{hook.id}/secret")
    assert hook.secret not in confirm.content.decode()
    assert "Reveal the signing secret?" in text(confirm)

    with caplog.at_level(logging.INFO, logger="webhooks.services.audit"):
        shown = client.form(f"/portal/webhooks/{hook.id}/secret")

    assert hook.secret in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert f"secret of webhook {hook.id}" in caplog.text
    assert "via portal" in caplog.text
    assert hook.secret not in caplog.text


def test_regenerating_shows_the_new_secret_and_the_old_one_in_its_grace(project, hook):
    old = hook.secret

    shown = portal(project).form(f"/portal/webhooks/{hook.id}/regenerate-secret")

    hook.refresh_from_db()
    assert hook.secret != old
    assert hook.previous_secret == old
    assert hook.secret in shown.content.decode()
    assert "Previous secret, still signing until" in text(shown)


def test_the_event_catalogue_shows_each_type_with_its_schema_and_example(project):
    page = portal(project).get("/portal/event-types")

    shown = text(page)
    assert page.status_code == 200
    for name in ("config.deployed", "variant.created", "webhook.test", "webhook.disabled"):
        assert name in shown
    assert "A prompt config was deployed to an environment." in shown
    assert "&quot;deployed_by&quot;" in page.content.decode()  # the example
    assert page.content.decode().count("&quot;$schema&quot;") == len(EVENT_TYPES)  # the schemas
    operators = shown.partition("Operator events")[2]
    for name in ("webhook.disabled", "webhook.failing", "delivery.exhausted"):
        assert f"{name} operator event, not subscribable" in operators
    assert "all events" in shown


def test_the_form_offers_only_the_types_a_webhook_can_subscribe_to(project, hook):
    client = portal(project)

    for path in ("/portal/webhooks/new", f"/portal/webhooks/{hook.id}/edit"):
        form = client.get(path).content.decode()
        offered = re.findall(r'name="event_types" value="([^"]+)"', form)
        assert offered == [
            "*",
            "config.deployed",
            "config.committed",
            "variant.created",
            "variant.deleted",
            "evaluation.completed",
        ], path
    refused = client.form("/portal/webhooks/new", new_webhook(event_types=["webhook.disabled"]))
    assert refused.status_code == 400
    assert "Select a valid choice" in text(refused)


def test_all_events_is_said_in_words(project):
    WebhookFactory(project_id=project, event_types=["*"])
    client = portal(project)

    listed = text(client.get("/portal/"))

    assert "all events" in listed
    assert " * " not in listed


def test_the_webhook_page_charts_attempts_that_succeeded_and_failed(project, hook):
    # given 3 deliveries answered 200 today, one retrying after a 500, and a 500 3 days ago
    now = timezone.now()
    for status, code in (("succeeded", 200),) * 3 + (("pending", 500),):
        delivery = DeliveryFactory(webhook=hook, status=status)
        DeliveryAttemptFactory(delivery=delivery, number=1, duration_ms=40, response_status=code)
    old = DeliveryAttemptFactory(
        delivery=DeliveryFactory(webhook=hook, status="failed"),
        response_status=500,
        started_at=now - timedelta(days=3),
    )
    assert old.pk

    response = portal(project).get(f"/portal/webhooks/{hook.id}")

    page = text(response)
    assert (
        "Last 24 hours, per hour: 4 attempts, 3 succeeded , 1 failed (75.0% succeeded), "
        "40 ms on average" in page
    )
    assert "Last 7 days: 5 attempts, 3 succeeded , 2 failed (60.0% succeeded)" in page
    svg = response.content.decode()
    # this hour: one green and one red segment; 7 days: today's two, and a red one 3 days ago
    assert svg.count('<rect class="bar ok"') == 2
    assert svg.count('<rect class="bar bad"') == 3
    assert "3 succeeded, 1 failed, 40 ms on average" in svg


def test_deliveries_retrying_on_500_show_red_bars_not_an_empty_chart(project, hook):
    # the case: 5 deliveries, none finished, each failed its first attempt on 500
    for _ in range(5):
        delivery = DeliveryFactory(webhook=hook, status="pending", attempt_count=1)
        DeliveryAttemptFactory(delivery=delivery, number=1, response_status=500)

    response = portal(project).get(f"/portal/webhooks/{hook.id}")

    page = text(response)
    assert "5 attempts, 0 succeeded , 5 failed (0.0% succeeded)" in page
    assert "0 of 1" not in page
    assert response.content.decode().count('<rect class="bar bad"') == 2  # one per chart
    assert "5 waiting for a retry" in page


def test_the_deliveries_filter_by_status_and_type_a_page_at_a_time(project, hook, monkeypatch):
    monkeypatch.setattr("webhooks.portal.views.deliveries.PAGE_SIZE", 2)
    failed = [DeliveryFactory(webhook=hook, status="failed") for _ in range(3)]
    DeliveryFactory(webhook=hook, status="succeeded")
    DeliveryFactory(
        webhook=hook,
        status="failed",
        event=EventFactory(project_id=project, type="variant.created"),
    )
    client = portal(project)
    url = f"/portal/webhooks/{hook.id}/deliveries"

    first = client.get(url, {"status": "failed", "event_type": "config.deployed"})
    older = re.search(r'href="\?([^"]+)">Older deliveries', first.content.decode()).group(1)
    second = client.get(f"{url}?{older.replace('&amp;', '&')}")

    def shown(response):
        return re.findall(r"/deliveries/([0-9a-f-]{36})", response.content.decode())

    assert shown(first) == [str(failed[2].id), str(failed[1].id)]
    assert shown(second) == [str(failed[0].id)]
    assert "Older deliveries" not in text(second)
    rows = client.get(url, {"status": "failed"}, **HTMX)
    assert "<html" not in rows.content.decode()
    assert len(shown(rows)) == 2


def test_a_bad_filter_answers_400_with_the_field_message(project, hook):
    response = portal(project).get(f"/portal/webhooks/{hook.id}/deliveries", {"status": "lost"})

    assert response.status_code == 400
    assert "Select a valid choice. lost is not one of the available choices." in text(response)


def test_a_delivery_shows_each_attempt_request_and_answer_redacted(project, hook):
    delivery = DeliveryFactory(webhook=hook, status="failed", attempt_count=2)
    DeliveryAttemptFactory(
        delivery=delivery,
        number=1,
        response_status=503,
        request_headers={"webhook-signature": "v1,abc", "Authorization": "Bearer t", "X-A": "1"},
        response_headers={"Set-Cookie": "s=1", "Retry-After": "5"},
        response_body="busy",
    )
    DeliveryAttemptFactory(
        delivery=delivery,
        number=2,
        response_status=None,
        error_kind="timeout",
        error_message="no answer within 10s",
    )

    page = portal(project).get(f"/portal/webhooks/{hook.id}/deliveries/{delivery.id}")

    body = page.content.decode()
    assert page.status_code == 200
    assert "Attempts (2)" in text(page)
    assert "HTTP 503" in text(page) and "busy" in body and "Retry-After" in body
    assert "timeout: no answer within 10s" in text(page)
    assert "v1,abc" not in body and "Bearer t" not in body and "s=1" not in body
    assert body.count("[redacted]") == 3
    assert "&quot;environment_ref&quot;" in body  # the payload, pretty-printed


def test_retrying_a_failed_delivery_queues_a_manual_attempt(project, hook):
    delivery = DeliveryFactory(webhook=hook, status="failed")
    url = f"/portal/webhooks/{hook.id}/deliveries/{delivery.id}"

    retried = portal(project).form(f"{url}/retry")

    assert retried["Location"] == f"{url}?notice=retried"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.trigger) == ("pending", "manual")
    assert delivery.next_attempt_at <= timezone.now()


def test_retrying_with_htmx_answers_the_fragment_that_polls_until_done(project, hook):
    delivery = DeliveryFactory(webhook=hook, status="failed")
    url = f"/portal/webhooks/{hook.id}/deliveries/{delivery.id}"

    fragment = portal(project).form(f"{url}/retry", **HTMX)

    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<div id="delivery-state"')
    assert 'hx-trigger="every 2s"' in body
    assert "pending" in text(fragment)


def test_a_retry_of_a_disabled_webhook_says_why_not(project):
    hook = WebhookFactory(project_id=project, is_active=False)
    delivery = DeliveryFactory(webhook=hook, status="failed")

    refused = portal(project).form(f"/portal/webhooks/{hook.id}/deliveries/{delivery.id}/retry")

    assert refused.status_code == 409
    assert "The webhook is disabled; enable it first." in text(refused)
    assert Delivery.objects.get(id=delivery.id).status == "failed"


def test_a_test_ping_shows_what_the_endpoint_answered(project, receiver):
    hook = WebhookFactory(project_id=project, url=receiver.url())
    receiver.reply_with(Reply(status=202, body=b"thanks"))

    shown = portal(project).form(f"/portal/webhooks/{hook.id}/test")

    assert shown.status_code == 200
    assert "Delivered : HTTP 202" in text(shown)
    assert "thanks" in text(shown)
    (request,) = receiver.wait_for(1)
    assert request.headers["x-agenta-event"] == "webhook.test"
    delivery = Delivery.objects.get(webhook=hook)
    assert f"/deliveries/{delivery.id}" in shown.content.decode()


def test_a_test_ping_with_htmx_answers_only_the_result(project, receiver):
    hook = WebhookFactory(project_id=project, url=receiver.url())
    receiver.reply_with(500)

    fragment = portal(project).form(f"/portal/webhooks/{hook.id}/test", **HTMX)

    assert "<html" not in fragment.content.decode()
    assert "Not delivered : HTTP 500" in text(fragment)


def test_recover_requeues_the_failed_deliveries_since_a_time(project, hook):
    recent = DeliveryFactory(webhook=hook, status="failed")
    old = DeliveryFactory(webhook=hook, status="failed")
    Delivery.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    shown = portal(project).form(f"/portal/webhooks/{hook.id}/recover", {"since": since})

    assert shown.status_code == 200
    assert "1 failed delivery queued again." in text(shown)
    assert Delivery.objects.get(id=recent.id).status == "pending"
    assert Delivery.objects.get(id=old.id).status == "failed"


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("2001-01-01T00:00", "Must be within the last 14 days."),
        ("yesterday", "Enter a valid date/time."),
    ],
)
def test_a_bad_recover_window_answers_400(project, hook, since, message):
    shown = portal(project).form(f"/portal/webhooks/{hook.id}/recover", {"since": since})

    assert shown.status_code == 400
    assert message in text(shown)


def test_a_read_only_session_sees_but_changes_nothing(project, hook):
    delivery = DeliveryFactory(webhook=hook, status="failed")
    client = portal(project, role="read_only")
    base = f"/portal/webhooks/{hook.id}"

    assert client.get("/portal/").status_code == 200
    detail = client.get(base)
    assert detail.status_code == 200
    assert "Send a test event" not in text(detail) and "Reveal" not in text(detail)
    assert client.get(f"{base}/deliveries/{delivery.id}").status_code == 200
    for path in ("/portal/webhooks/new", f"{base}/edit", f"{base}/secret", f"{base}/delete"):
        assert client.get(path).status_code == 403, path
    for path in (f"{base}/active", f"{base}/test", f"{base}/deliveries/{delivery.id}/retry"):
        refused = client.form(path, {"is_active": "false"})
        assert refused.status_code == 403, path
        assert "Read-only access" in text(refused)
    hook.refresh_from_db()
    assert hook.is_active
    assert Delivery.objects.get(id=delivery.id).status == "failed"
    assert Delivery.objects.filter(webhook=hook).count() == 1  # no test ping either


def test_a_form_without_the_session_token_is_refused(project, hook):
    client = portal(project)

    forged = client.post(f"/portal/webhooks/{hook.id}/active", {"is_active": "false"})
    wrong = client.post(
        f"/portal/webhooks/{hook.id}/active", {"is_active": "false", CSRF_FIELD: "0" * 64}
    )

    assert forged.status_code == wrong.status_code == 403
    assert "This form has expired" in text(forged)
    hook.refresh_from_db()
    assert hook.is_active


def test_pages_are_accessible_html(project, hook):
    page = portal(project).get("/portal/webhooks/new").content.decode()

    assert '<html lang="en">' in page
    assert 'href="#main"' in page  # skip link
    for field in ("id_name", "id_url", "id_headers"):
        assert f'for="{field}"' in page, field
    assert "<legend>Event types" in page.replace("<legend >", "<legend>")
    assert "/static/portal/htmx.min.js" in page and "unpkg" not in page
