"""One list of reserved headers: validation refuses them, and sending never lets them through."""

import pytest

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks import wire
from webhooks.engine.lanes import deliver
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db

ONCE_MISSING_AT_SEND_TIME = ["Content-Encoding", "Expect", "TE", "Upgrade", "Proxy-Authorization"]


@pytest.mark.parametrize("name", [*ONCE_MISSING_AT_SEND_TIME, "Webhook-Id", "X-Agenta-Event"])
def test_the_api_refuses_a_reserved_header(service_client, name):
    response = service_client.post(
        "/api/projects/0190f3c2-0000-7000-8000-000000000001/webhooks",
        {"name": "x", "url": "https://hooks.example.com/x", "headers": {name: "v"}},
        format="json",
    )
    assert response.status_code == 400
    assert "reserved" in response.json()["headers"][0]


def test_a_stored_reserved_header_is_never_sent(receiver):
    # A row written before validation knew these names (or by hand) must not reach the wire.
    webhook = WebhookFactory(url=receiver.url())
    smuggled = {name: "smuggled" for name in ONCE_MISSING_AT_SEND_TIME} | {"X-Team": "ml"}
    webhook.headers = smuggled
    webhook.save(update_fields=["headers"])

    attempt = deliver(DeliveryFactory(webhook=Webhook.objects.get(id=webhook.id)).id)

    assert attempt.response_status == 200
    (got,) = receiver.wait_for(1)
    assert got.headers["x-team"] == "ml"
    assert "smuggled" not in str(got.headers)


def test_validation_and_sending_use_the_same_list():
    for name in wire.RESERVED_HEADERS:
        assert wire.is_reserved(name.upper())
        headers = wire.request_headers(
            delivery_id="d", event_type="t", body="{}", secrets=[], custom={name: "x"}
        )
        assert headers.get(name) != "x"
