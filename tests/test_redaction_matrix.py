"""Who sees a webhook URL's path and query, on every read path but the portal's.

The rule (issue 22): whoever may not change the webhook sees it redacted (https://host/…?token=…)
everywhere; whoever may change it sees it whole where the URL is shown as the webhook's
setting. Records made for anyone to read (an attempt's request URL, an operator event's body,
log lines) carry it redacted for everyone. The portal's column is tests/test_portal_*.
"""

import io
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, Event
from webhooks.services import operator
from webhooks.signing import generate_secret

pytestmark = pytest.mark.django_db

SLACK_PATH = "/services/T000/B000/XXXXsecretpart"
SECRETS = ("T000", "B000", "XXXXsecretpart", "abc123")


@pytest.fixture
def hook(unused_port):
    # A closed port: attempts fail fast with an error message, never reaching anything.
    url = f"http://127.0.0.1:{unused_port}{SLACK_PATH}?token=abc123"
    webhook = WebhookFactory(url=url)
    delivery = DeliveryFactory(webhook=webhook, event=EventFactory(project_id=webhook.project_id))
    deliver(delivery.id)  # one real attempt: its request URL and error are recorded
    return webhook


def _staff(codenames) -> Client:
    user = User.objects.create_user(f"staff-{len(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def readers_and_writers(make_key_client, hook):
    views = ["view_webhook", "view_delivery", "view_event"]
    return {
        "api reader": make_key_client(hook.project_id, ("webhooks:read",)),
        "api writer": make_key_client(hook.project_id, ("webhooks:read", "webhooks:write")),
        "staff reader": _staff(views),
        "staff writer": _staff([*views, "change_webhook"]),
    }


def _api(hook):
    base = f"/api/projects/{hook.project_id}"
    delivery = hook.deliveries.get()
    return {
        "GET webhooks": f"{base}/webhooks",
        "GET webhook": f"{base}/webhooks/{hook.id}",
        "GET event": f"{base}/events/{delivery.event_id}",
    }


def _admin(hook):
    delivery = hook.deliveries.get()
    return {
        "admin webhook list": "/admin/webhooks/webhook/",
        "admin webhook page": f"/admin/webhooks/webhook/{hook.id}/change/",
        "admin delivery page": f"/admin/webhooks/delivery/{delivery.id}/change/",
    }


# Read paths that show a URL only redacted, whoever reads them (a history record, no setting).
_RECORDS = {
    "GET delivery (attempts)": lambda h: (
        f"/api/projects/{h.project_id}/webhooks/{h.id}/deliveries/{h.deliveries.get().id}"
    ),
    "GET deliveries": lambda h: f"/api/projects/{h.project_id}/webhooks/{h.id}/deliveries",
    "admin delivery list": lambda h: "/admin/webhooks/delivery/",
}


def _leaks(text: str) -> list[str]:
    return [part for part in SECRETS if part in text]


@pytest.mark.parametrize("path_name", ["GET webhooks", "GET webhook", "GET event"])
def test_api_readers_see_the_url_redacted_and_writers_whole(readers_and_writers, hook, path_name):
    path = _api(hook)[path_name]
    read = readers_and_writers["api reader"].get(path)
    written = readers_and_writers["api writer"].get(path)
    assert read.status_code == written.status_code == 200
    assert _leaks(read.content.decode()) == []
    assert "127.0.0.1" in read.content.decode()  # the host stays: it says where events go
    assert hook.url in written.content.decode()


@pytest.mark.parametrize(
    "path_name", ["admin webhook list", "admin webhook page", "admin delivery page"]
)
def test_admin_staff_who_may_not_change_webhooks_see_it_redacted(
    readers_and_writers, hook, path_name
):
    path = _admin(hook)[path_name]
    read = readers_and_writers["staff reader"].get(path)
    written = readers_and_writers["staff writer"].get(path)
    assert read.status_code == written.status_code == 200
    assert _leaks(read.content.decode()) == []
    # Django escapes & in the page
    assert hook.url.replace("&", "&amp;") in written.content.decode()


@pytest.mark.parametrize(
    ("path_name", "who"),
    [
        (path_name, who)
        for path_name in _RECORDS
        for who in ("api reader", "api writer", "staff reader", "staff writer")
        if path_name.startswith("admin") == who.startswith("staff")
    ],
)
def test_history_records_show_it_redacted_to_everyone(readers_and_writers, hook, path_name, who):
    response = readers_and_writers[who].get(_RECORDS[path_name](hook))
    assert response.status_code == 200
    assert str(hook.deliveries.get().id)[:8] in response.content.decode()
    assert _leaks(response.content.decode()) == []


def test_operator_event_bodies_and_their_admin_pages_carry_it_redacted(
    hook, webhooks_settings, readers_and_writers, woken
):
    webhooks_settings(
        OPERATOR_WEBHOOK_URL="https://ops.example.com/agenta/operator",
        OPERATOR_WEBHOOK_SECRET=generate_secret(),
    )
    now = timezone.now()
    operator.webhook_disabled(hook, "endpoint answered 410 Gone", now, now - timedelta(days=5))
    operator.webhook_failing(hook, now, hook.deliveries.get().attempts.get())
    for event in Event.objects.filter(project_id=operator.project_id()):
        assert _leaks(event.body) == [], event.type
        assert '"url":"http://127.0.0.1:' in event.body
        for who in ("staff reader", "staff writer"):
            page = readers_and_writers[who].get(f"/admin/webhooks/event/{event.id}/change/")
            assert page.status_code == 200
            assert _leaks(page.content.decode()) == [], (who, event.type)
    assert Event.objects.filter(project_id=operator.project_id()).count() == 2


def test_log_records_never_carry_a_urls_path_or_query(hook):
    # given the configured console handler (its filters are what reaches the operator's logs)
    handler = logging.getHandlerByName("console")
    logger = logging.getLogger("webhooks.engine.sender")
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 1, "sending to %s failed", (hook.url,), None
    )
    try:
        raise ConnectionError(f"Max retries exceeded with url: {SLACK_PATH}?token=abc123")
    except ConnectionError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    # when it is handled
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        handler.handle(record)
    finally:
        handler.setStream(previous)
    # then neither the message nor the traceback holds the path or the token
    written = stream.getvalue()
    assert "sending to http://127.0.0.1:" in written
    assert "Max retries exceeded with url: /…" in written  # the traceback, redacted
    assert _leaks(written) == []
    # and the failed attempt made above was logged with its error redacted too
    delivery = Delivery.objects.get(webhook=hook)
    assert delivery.status == "pending" and _leaks(delivery.last_error) == []


def test_access_logs_never_carry_a_sign_in_links_token():
    # given gunicorn's access logger as the Procfile configures it, and runserver's request line
    from gunicorn.config import Config
    from gunicorn.http.wsgi import Response

    from webhooks.observability.gunicorn_logger import JsonAwareLogger

    config = Config()
    config.set("accesslog", "-")
    access = JsonAwareLogger(config)
    stream = io.StringIO()
    access.access_log.handlers[0].setStream(stream)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/portal/open?token=secret-sign-in-token&next=x",
        "PATH_INFO": "/portal/open",
        "QUERY_STRING": "token=secret-sign-in-token&next=x",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "http://127.0.0.1:8000/portal/open?token=secret-sign-in-token",
    }
    response = Response(None, None, config)
    response.status = "302 Found"

    class Elapsed:
        seconds, microseconds = 0, 1500

    # when a request is logged by each
    access.access(response, [("Referer", environ["HTTP_REFERER"])], environ, Elapsed())
    handler = logging.getHandlerByName("console")
    record = logging.getLogger("django.server").makeRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /portal/open?token=secret-sign-in-token HTTP/1.1", 302, 0),
        None,
    )
    previous = handler.setStream(stream)
    try:
        handler.handle(record)
    finally:
        handler.setStream(previous)
    # then our own paths show, the referer is cut like any URL, and the token is nowhere
    written = stream.getvalue()
    assert written.count("/portal/open?token=…") == 2, written
    assert '"http://127.0.0.1:8000/…?token=…"' in written
    assert "secret-sign-in-token" not in written
