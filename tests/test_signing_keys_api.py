"""v1a through the API: choose the scheme, publish the public keys, rotate, deliver, verify."""

import base64
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks import signing
from webhooks.engine.lanes import deliver
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

PROJECT = uuid.UUID("0190f3c2-0000-7000-8000-0000000000c1")


def _base(webhook) -> str:
    return f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"


def _jwk_public_key(jwk: dict) -> str:
    """Return the whpk_ key that a JWK's x stands for (what a receiver would compute)."""
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return signing.PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


@pytest.fixture
def client(make_key_client):
    return make_key_client(PROJECT)


def _delivered(receiver, webhook):
    seen = len(receiver.requests)
    delivery = DeliveryFactory(webhook=webhook, event=EventFactory(project_id=webhook.project_id))
    deliver(delivery.id, trigger="auto")
    return receiver.wait_for(seen + 1)[seen]


def test_a_v1a_webhook_is_verified_with_its_published_key_alone(client, receiver):
    # given a webhook created to sign with ed25519 only
    created = client.post(
        f"/api/projects/{PROJECT}/webhooks",
        {"name": "v1a", "url": receiver.url(), "signature_schemes": ["v1a"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["signature_schemes"] == ["v1a"]
    webhook = Webhook.objects.get(id=created.json()["id"])
    # when its public keys are read (a read-only key is enough) and a delivery arrives
    document = client.get(f"{_base(webhook)}/signing-keys").json()
    [jwk] = document["keys"]
    assert jwk["status"] == "current" and jwk["public_key"] == created.json()["public_key"]
    assert _jwk_public_key(jwk) == jwk["public_key"]
    request = _delivered(receiver, webhook)
    # then it carries one v1a signature that the public key verifies, and no HMAC
    assert request.headers["webhook-signature"].startswith("v1a,")
    assert " " not in request.headers["webhook-signature"]
    signing.verify_ed25519(jwk["public_key"], request.headers, request.body)


def test_both_schemes_verify_with_the_secret_and_the_public_key(client, receiver):
    webhook = WebhookFactory(project_id=PROJECT, url=receiver.url())
    changed = client.patch(_base(webhook), {"signature_schemes": ["v1a", "v1"]}, format="json")
    assert changed.json()["signature_schemes"] == ["v1", "v1a"]
    request = _delivered(receiver, webhook)
    # the standardwebhooks library (v1 only) still verifies, and the public key does too
    StandardWebhook(webhook.secret).verify(request.body, request.headers)
    signing.verify_ed25519(changed.json()["public_key"], request.headers, request.body)


def test_a_webhook_made_before_v1a_gets_a_key_when_it_chooses_v1a(client):
    webhook = WebhookFactory(project_id=PROJECT, signing_key=None)
    assert client.get(f"{_base(webhook)}/signing-keys").json() == {"keys": []}
    changed = client.patch(_base(webhook), {"signature_schemes": ["v1a"]}, format="json")
    assert changed.json()["public_key"].startswith("whpk_")
    assert len(client.get(f"{_base(webhook)}/signing-keys").json()["keys"]) == 1


def test_rotation_keeps_the_old_key_signing_and_listed_for_the_grace(client, receiver):
    webhook = WebhookFactory(project_id=PROJECT, url=receiver.url(), signature_schemes=["v1a"])
    old = signing.public_key(webhook.signing_key)
    # when the key is rotated with a one-hour grace
    rotated = client.post(
        f"{_base(webhook)}/rotate-signing-key", {"grace_period_seconds": 3600}, format="json"
    )
    assert rotated.status_code == 200
    new = rotated.json()["public_key"]
    assert new != old and rotated.json()["previous_signing_key_expires_at"]
    # then both keys are published, current first, and both verify a delivery
    keys = client.get(f"{_base(webhook)}/signing-keys").json()["keys"]
    assert [(k["public_key"], k["status"]) for k in keys] == [(new, "current"), (old, "previous")]
    assert keys[0]["kid"] == rotated.json()["kid"] != keys[1]["kid"]
    webhook.refresh_from_db()
    request = _delivered(receiver, webhook)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for key in (new, old):
        signing.verify_ed25519(key, request.headers, request.body)
    # and once the grace is over only the new key is listed and signs
    Webhook.objects.filter(id=webhook.id).update(
        previous_signing_key_expires_at=timezone.now() - timedelta(seconds=1)
    )
    keys = client.get(f"{_base(webhook)}/signing-keys").json()["keys"]
    assert [k["public_key"] for k in keys] == [new]
    webhook.refresh_from_db()
    later = _delivered(receiver, webhook)
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    signing.verify_ed25519(new, later.headers, later.body)
    with pytest.raises(signing.VerificationError):
        signing.verify_ed25519(old, later.headers, later.body)


@pytest.mark.parametrize(
    ("value", "message"),
    [([], "non-empty"), (["v2"], "Unknown scheme"), ("v1", "non-empty"), ([1], "non-empty")],
)
def test_a_bad_scheme_list_is_a_400_with_a_field_message(client, value, message):
    webhook = WebhookFactory(project_id=PROJECT)
    response = client.patch(_base(webhook), {"signature_schemes": value}, format="json")
    assert response.status_code == 400
    assert message in str(response.json())


def test_rotation_needs_write_and_refuses_a_bad_grace(make_key_client):
    webhook = WebhookFactory(project_id=PROJECT)
    reader = make_key_client(PROJECT, scopes=("webhooks:read",))
    assert reader.get(f"{_base(webhook)}/signing-keys").status_code == 200
    assert reader.post(f"{_base(webhook)}/rotate-signing-key").status_code == 403
    writer = make_key_client(PROJECT, scopes=("webhooks:write",))
    bad = writer.post(
        f"{_base(webhook)}/rotate-signing-key", {"grace_period_seconds": -1}, format="json"
    )
    assert bad.status_code == 400
    assert "grace_period_seconds" in str(bad.json())
