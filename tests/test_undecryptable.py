"""A webhook whose secret, headers or URL no configured key decrypts: the API and the admin keep
answering, show that it needs a new secret, and regenerate-secret repairs it."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks.crypto import DecryptionError
from webhooks.engine.lanes import deliver
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = "key-that-was-dropped", "key-in-use"


@pytest.fixture
def broken(settings, receiver):
    """A webhook stored under a key that is no longer configured; its URL was set again since."""
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD_KEY]
    webhook = WebhookFactory(headers={"Authorization": "Bearer t0ken"})
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW_KEY]
    webhook = Webhook.objects.get(id=webhook.id)
    webhook.url = receiver.url()
    webhook.save(update_fields=["url"])
    return webhook


def _base(webhook) -> str:
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"


def test_loading_never_raises_and_says_what_cannot_be_read(broken):
    loaded = Webhook.objects.get(id=broken.id)

    assert loaded.undecryptable_fields() == ["headers", "secret"]
    assert loaded.secret_status == "undecryptable"
    with pytest.raises(DecryptionError, match="WEBHOOKS_ENCRYPTION_KEYS") as raised:
        loaded.signing_secrets(timezone.now())
    assert "regenerate" in str(raised.value) and "t0ken" not in str(raised.value)


def test_the_api_answers_200_and_shows_the_webhook_needs_a_new_secret(service_client, broken):
    DeliveryFactory(webhook=broken, status="failed")
    base = _base(broken)

    listed = service_client.get(f"/api/projects/{broken.project_id}/webhooks")
    detail = service_client.get(base)
    deliveries = service_client.get(f"{base}/deliveries")
    stats = service_client.get(f"{base}/stats")
    renamed = service_client.patch(base, {"name": "renamed"}, format="json")

    for response in (listed, detail, deliveries, stats, renamed):
        assert response.status_code == 200, response.content
    assert listed.json()["results"][0]["secret_status"] == "undecryptable"
    assert detail.json()["secret_status"] == "undecryptable"
    assert detail.json()["undecryptable_fields"] == ["headers", "secret"]
    assert detail.json()["headers"] == {}
    assert len(deliveries.json()["results"]) == 1
    assert renamed.json()["name"] == "renamed"


def test_reading_the_secret_says_to_regenerate_it(service_client, broken):
    response = service_client.get(f"{_base(broken)}/secret")

    assert response.status_code == 409
    assert "regenerate" in response.json()["detail"]


def test_an_undecryptable_webhook_can_be_deleted(service_client, broken):
    assert service_client.delete(_base(broken)).status_code == 204
    assert Webhook.objects.get(id=broken.id).deleted_at is not None


def test_saving_other_fields_keeps_the_stored_token(settings, service_client, broken):
    service_client.patch(_base(broken), {"name": "renamed"}, format="json")

    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]  # the old key comes back

    assert Webhook.objects.get(id=broken.id).headers == {"Authorization": "Bearer t0ken"}


def test_regenerate_secret_repairs_it_clears_the_headers_and_the_next_delivery_succeeds(
    service_client, broken, receiver
):
    response = service_client.post(
        f"{_base(broken)}/regenerate-secret", {"grace_period_seconds": 3600}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cleared"] == ["headers"]
    assert body["previous_secret_expires_at"] is None  # an unreadable secret gets no grace
    detail = service_client.get(_base(broken)).json()
    assert detail["secret_status"] == "ok" and detail["undecryptable_fields"] == []
    delivery = DeliveryFactory(webhook=broken)
    attempt = deliver(delivery.id)
    assert attempt.response_status == 200
    (got,) = receiver.wait_for(1)
    StandardWebhook(body["secret"]).verify(got.body, got.headers)
    assert len(got.headers["webhook-signature"].split()) == 1


def test_the_admin_shows_it_and_refuses_to_reveal_without_a_500(client, broken):
    admin = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(admin)

    listing = client.get("/admin/webhooks/webhook/")
    page = client.get(f"/admin/webhooks/webhook/{broken.id}/change/")
    reveal = client.post(f"/admin/webhooks/webhook/{broken.id}/reveal-secret/")

    assert listing.status_code == page.status_code == reveal.status_code == 200
    assert "undecryptable" in listing.content.decode()
    assert "needs a new secret" in page.content.decode()
    assert "WEBHOOKS_ENCRYPTION_KEYS" in reveal.content.decode()
