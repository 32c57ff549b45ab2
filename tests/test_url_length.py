"""A URL at the length limit: no 500, at create, at a test ping or in a delivery.

`?a&a&a...` is the worst case: the redacted copy an attempt stores (`?a=…&a=…`) would double
it past the 2,048-character column; it is cut to fit instead, and the receiver still gets the
whole URL.
"""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks import wire
from webhooks.engine import lanes
from webhooks.models import Delivery, DeliveryAttempt, Webhook

PROJECT = uuid.UUID("0190f3c2-0000-7000-8000-0000000000c1")
LIMIT = 2048  # characters (egress.MAX_URL_LENGTH, the column of an attempt's request_url)


def _at_the_limit(base: str) -> str:
    """Return base + "?a&a&a..." of exactly LIMIT characters (base ends in a path)."""
    url = base + "?a"
    while len(url) + 2 <= LIMIT:
        url += "&a"
    return url + "b" * (LIMIT - len(url))


@settings(max_examples=200, deadline=None)
@given(
    query=st.text(st.sampled_from("a&=;%é…?#/"), max_size=LIMIT),
    host=st.sampled_from(["h.example.com", "[::1]:8443", "x" * 63 + "." + "y" * 63 + ".com"]),
)
def test_a_redacted_url_never_outgrows_the_column(host, query):
    url = f"https://{host}/p?{query}"[:LIMIT]

    assert len(wire.redacted_url(url)) <= LIMIT


@pytest.fixture
def client(make_key_client):
    return make_key_client(PROJECT)


def _create(client, url: str):
    payload = {"name": "long", "url": url, "event_types": ["config.deployed"]}
    return client.post(f"/api/projects/{PROJECT}/webhooks", payload, format="json")


@pytest.mark.django_db
def test_a_url_at_the_length_limit_is_created_and_one_over_it_is_refused_naming_the_limit(
    client, receiver
):
    url = _at_the_limit(receiver.url())
    assert len(url) == LIMIT

    created = _create(client, url)
    refused = _create(client, url + "a")

    assert created.status_code == 201, created.json()
    assert Webhook.objects.get(pk=created.json()["id"]).url == url
    assert refused.status_code == 400
    assert "2048 characters" in str(refused.json())


@pytest.mark.django_db
def test_a_test_ping_to_a_url_at_the_length_limit_answers_and_is_recorded(client, receiver):
    url = _at_the_limit(receiver.url())
    webhook_id = _create(client, url).json()["id"]

    response = client.post(f"/api/projects/{PROJECT}/webhooks/{webhook_id}/test")

    assert response.status_code == 200, response.content
    assert response.json()["succeeded"] is True
    (request,) = receiver.wait_for(1)
    assert f"http://127.0.0.1:{receiver.port}{request.path}" == url
    attempt = DeliveryAttempt.objects.get(delivery_id=response.json()["delivery_id"])
    assert len(attempt.request_url) <= LIMIT
    history = client.get(f"/api/projects/{PROJECT}/webhooks/{webhook_id}/deliveries")
    assert history.status_code == 200


@pytest.mark.django_db
def test_a_delivery_to_a_url_at_the_length_limit_is_recorded(receiver, woken):
    webhook = WebhookFactory(url=_at_the_limit(receiver.url()))
    delivery = DeliveryFactory(webhook=webhook)

    lanes.run_lane(webhook.id)

    (request,) = receiver.wait_for(1)
    assert f"http://127.0.0.1:{receiver.port}{request.path}" == webhook.url
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    (attempt,) = delivery.attempts.all()
    assert attempt.request_url.endswith("&…")
    assert len(attempt.request_url) <= LIMIT
