"""The portal column of issue 22's redaction matrix: a read-only session never sees a webhook
URL's path or query, on any page; a read-write session sees the URL whole where it edits it."""

import uuid

import pytest

from tests.factories import DeliveryAttemptFactory, DeliveryFactory, EventFactory, WebhookFactory
from tests.portal_support import portal

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"
TOKEN = "https://example.com/agenta?token=s3cr3t-value"
# What must never reach a reader: the Slack path's parts and the query's value.
SECRETS = ("T000", "B000", "XXXX", "s3cr3t-value")


@pytest.fixture
def project():
    return uuid.uuid4()


@pytest.fixture
def pages(project) -> list[str]:
    """Return every portal page a reader may open that shows a webhook or its deliveries."""
    paths = ["/portal/", "/portal/events", "/portal/event-types"]
    for url in (SLACK, TOKEN):
        hook = WebhookFactory(project_id=project, url=url)
        event = EventFactory(project_id=project)
        delivery = DeliveryFactory(
            webhook=hook,
            event=event,
            status="pending",
            attempt_count=1,
            # as an old row, or another writer, may have stored it: the URL in the error text
            last_error=f"connection refused: {url} (Max retries exceeded with url: /services/T000)",
        )
        DeliveryAttemptFactory(
            delivery=delivery,
            number=1,
            request_url=url,  # stored whole, as before the engine redacted it
            response_status=None,
            error_kind="connection",
            error_message=f"could not reach {url}",
        )
        base = f"/portal/webhooks/{hook.id}"
        paths += [
            base,
            f"{base}/deliveries",
            f"{base}/deliveries?search={delivery.id}",
            f"{base}/deliveries/{delivery.id}",
            f"/portal/events?search={event.id}",
        ]
    return paths


def test_a_reader_sees_no_path_or_query_on_any_page(project, pages):
    reader = portal(project, role="read_only")

    for path in pages:
        response = reader.get(path)
        body = response.content.decode()
        assert response.status_code == 200, path
        for secret in SECRETS:
            assert secret not in body, (path, secret)

    listed = reader.get("/portal/").content.decode()
    assert "https://hooks.slack.com/…" in listed  # the host stays, to tell webhooks apart
    assert "https://example.com/…?token=…" in listed


def test_a_writer_sees_the_whole_url_where_it_manages_the_webhook(project, pages):
    writer = portal(project, role="read_write")
    hooks = [path for path in pages if path.count("/") == 3 and "/webhooks/" in path]

    listed = writer.get("/portal/").content.decode()
    assert SLACK in listed and TOKEN in listed
    for path, url in zip(hooks, (SLACK, TOKEN), strict=True):
        assert url in writer.get(path).content.decode(), path
        assert url in writer.get(f"{path}/edit").content.decode(), path


def test_a_reader_is_told_why_the_url_is_cut(project):
    hook = WebhookFactory(project_id=project, url=SLACK)

    page = portal(project, role="read_only").get(f"/portal/webhooks/{hook.id}").content.decode()

    assert "path and query hidden" in page
