"""Reading a secret is audited: who, when, which webhook, from which address, through what."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import WebhookFactory
from webhooks.models import SecretRead
from webhooks.services.audit import record_secret_read

pytestmark = pytest.mark.django_db


def _secret_url(webhook) -> str:
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}/secret"


def test_an_api_read_is_recorded_with_the_key_and_the_address(make_key_client):
    webhook = WebhookFactory()
    client = make_key_client(webhook.project_id, ["webhooks:read", "webhooks:write"])

    response = client.get(_secret_url(webhook), REMOTE_ADDR="203.0.113.7")

    assert response.json() == {"secret": webhook.secret}
    (read,) = SecretRead.objects.all()
    assert read.webhook_id == webhook.id and read.project_id == webhook.project_id
    assert read.actor.startswith("api_key:ak_") and read.actor.endswith("(test key)")
    assert read.address == "203.0.113.7"
    assert read.via == "api"


def test_the_service_key_is_named_too(service_client):
    webhook = WebhookFactory()
    service_client.get(_secret_url(webhook))
    assert SecretRead.objects.get().actor == "service"


def test_a_read_only_key_gets_no_secret_and_leaves_no_record(make_key_client):
    webhook = WebhookFactory()
    reader = make_key_client(webhook.project_id, ["webhooks:read"])

    response = reader.get(_secret_url(webhook))

    assert response.status_code == 403
    assert webhook.secret not in response.content.decode()
    assert (
        webhook.secret not in reader.get(_secret_url(webhook)[: -len("/secret")]).content.decode()
    )
    assert not SecretRead.objects.exists()


def test_an_admin_reveal_is_recorded_and_listed_read_only(client):
    webhook = WebhookFactory()
    user = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(user)

    client.get(f"/admin/webhooks/webhook/{webhook.id}/reveal-secret/")  # the confirmation
    assert not SecretRead.objects.exists()
    client.post(f"/admin/webhooks/webhook/{webhook.id}/reveal-secret/")

    read = SecretRead.objects.get()
    assert (read.actor, read.via, read.address) == ("staff:root", "admin", "127.0.0.1")
    listing = client.get("/admin/webhooks/secretread/").content.decode()
    assert "staff:root" in listing
    assert client.get("/admin/webhooks/secretread/add/").status_code == 403
    page = client.get(f"/admin/webhooks/secretread/{read.id}/change/").content.decode()
    assert 'name="_save"' not in page


def test_the_portal_records_its_reads_through_the_service():
    webhook = WebhookFactory()

    record_secret_read(webhook, actor="portal:alice@example.com", address="not-an-ip", via="portal")

    read = SecretRead.objects.get()
    assert read.via == "portal" and read.address is None
    with pytest.raises(ValueError, match="via"):
        record_secret_read(webhook, actor="x", address=None, via="email")
