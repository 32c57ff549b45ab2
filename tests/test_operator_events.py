"""Operator events: signed events about the service itself, sent through the same engine."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Receiver, Reply
from webhooks import events, wire
from webhooks.engine.lanes import deliver
from webhooks.models import Delivery, Event, Webhook
from webhooks.services import operator
from webhooks.signing import generate_secret

pytestmark = pytest.mark.django_db

OPERATOR_TYPES = ["webhook.disabled", "webhook.failing", "delivery.exhausted"]


@pytest.fixture
def operator_receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def operator_on(webhooks_settings, operator_receiver, woken):
    """Operator events to a receiver of their own; returns the secret they are signed with."""
    secret = generate_secret()
    webhooks_settings(
        OPERATOR_WEBHOOK_URL=operator_receiver.url("/agenta/operator"),
        OPERATOR_WEBHOOK_SECRET=secret,
    )
    return secret


def project_delivery(webhook) -> Delivery:
    return DeliveryFactory(webhook=webhook, event=EventFactory(project_id=webhook.project_id))


def operator_events() -> list[Event]:
    return list(Event.objects.filter(project_id=operator.project_id()).order_by("id"))


def received_operator_event(receiver: Receiver, secret: str, event_type: str) -> dict:
    """Deliver the operator event of event_type and return its verified payload."""
    (event,) = [e for e in operator_events() if e.type == event_type]
    (delivery,) = event.deliveries.all()
    assert delivery.webhook_id == operator.operator_webhook_id()
    deliver(delivery.id)
    request = receiver.requests[-1]
    assert request.path == "/agenta/operator"
    assert request.headers["x-agenta-event"] == event_type
    payload = StandardWebhook(secret).verify(request.body, request.headers)  # raises if forged
    assert payload == json.loads(request.body)
    assert payload["type"] == event_type
    assert payload["project_id"] == str(operator.project_id())
    events.validate_data(events.EVENT_TYPES[event_type], payload["data"])
    return payload


def test_a_410_sends_a_signed_webhook_disabled_and_delivery_exhausted(
    receiver, operator_receiver, operator_on
):
    # given a project's webhook whose endpoint answers 410 Gone
    hook = WebhookFactory(url=receiver.url())
    receiver.reply_with(410)
    delivery = project_delivery(hook)
    # when its delivery is attempted
    deliver(delivery.id)
    # then the operator gets both events, signed with the operator secret
    disabled = received_operator_event(operator_receiver, operator_on, "webhook.disabled")
    assert disabled["data"]["webhook"] == {
        "id": str(hook.id),
        "project_id": str(hook.project_id),
        "name": hook.name,
        "url": wire.redacted_url(hook.url),  # the body is plain text: no credentials
    }
    assert disabled["data"]["reason"] == "endpoint answered 410 Gone"
    exhausted = received_operator_event(operator_receiver, operator_on, "delivery.exhausted")
    assert exhausted["data"]["delivery"] == {
        "id": str(delivery.id),
        "event_id": str(delivery.event_id),
        "event_type": "config.deployed",
        "attempts": 1,
        "last_status_code": 410,
        "last_error": "HTTP 410 Gone",
    }
    # the operator's webhook is an ordinary webhook of the reserved project, with history
    operator_hook = Webhook.objects.get(id=operator.operator_webhook_id())
    assert operator_hook.project_id == operator.project_id()
    assert operator_hook.deliveries.filter(status=Delivery.Status.SUCCEEDED).count() == 2


def test_five_days_failing_sends_webhook_disabled_once(
    receiver, operator_receiver, operator_on, webhooks_settings
):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[])  # one attempt: the first failure exhausts
    receiver.default = Reply(status=500)
    since = timezone.now() - timedelta(days=5, minutes=1)
    hook = WebhookFactory(url=receiver.url(), failing_since=since)

    deliver(project_delivery(hook).id)
    deliver(project_delivery(hook).id)  # the webhook is disabled now: not sent

    types = [e.type for e in operator_events()]
    assert types.count("webhook.disabled") == 1
    assert types.count("delivery.exhausted") == 1  # not one per delivery left behind
    payload = received_operator_event(operator_receiver, operator_on, "webhook.disabled")
    assert payload["data"]["reason"].startswith("no successful delivery for 5 days")
    assert payload["data"]["failing_since"] == events.format_timestamp(since)


def test_webhook_failing_is_sent_on_the_first_failure_at_most_once_a_day(
    receiver, operator_receiver, operator_on
):
    hook = WebhookFactory(url=receiver.url())
    receiver.reply_with(503, 200, 500)
    for _ in range(3):  # fail, succeed (clears failing_since), fail again the same day
        deliver(project_delivery(hook).id)

    assert [e.type for e in operator_events()] == ["webhook.failing"]
    payload = received_operator_event(operator_receiver, operator_on, "webhook.failing")
    assert payload["data"]["last_status_code"] == 503
    assert payload["data"]["last_error"] == "HTTP 503 Service Unavailable"


def test_nothing_is_sent_about_the_operator_webhook_itself(
    receiver, operator_receiver, operator_on, webhooks_settings
):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[])
    receiver.reply_with(500)
    deliver(project_delivery(WebhookFactory(url=receiver.url())).id)
    sent = operator_events()
    assert [e.type for e in sent] == ["webhook.failing", "delivery.exhausted"]
    operator_receiver.reply_with(410)  # the operator's endpoint fails and goes away

    deliver(sent[1].deliveries.get().id)

    assert operator_events() == sent
    assert not Webhook.objects.get(id=operator.operator_webhook_id()).is_active


def test_a_wildcard_webhook_in_the_operator_project_gets_no_operator_events(receiver, operator_on):
    eavesdropper = WebhookFactory(project_id=operator.project_id(), event_types=["*"])
    receiver.reply_with(410)
    deliver(project_delivery(WebhookFactory(url=receiver.url())).id)
    assert {e.type for e in operator_events()} == {"webhook.disabled", "delivery.exhausted"}
    assert not Delivery.objects.filter(webhook=eavesdropper).exists()


def test_no_operator_events_unless_configured(receiver):
    receiver.reply_with(410)
    deliver(project_delivery(WebhookFactory(url=receiver.url())).id)
    assert operator_events() == []
    assert not Webhook.objects.filter(project_id=operator.project_id()).exists()


def test_the_operator_webhook_follows_the_settings(operator_on, webhooks_settings):
    first = operator.sync_operator_webhook()
    assert (first.url, first.secret, first.event_types) == (
        "http://127.0.0.1:" + first.url.split(":")[2],
        operator_on,
        OPERATOR_TYPES,
    )
    new_secret = generate_secret()
    webhooks_settings(
        OPERATOR_WEBHOOK_URL="http://127.0.0.1:9/new", OPERATOR_WEBHOOK_SECRET=new_secret
    )
    second = operator.sync_operator_webhook()
    assert (second.id, second.url, second.secret) == (
        first.id,
        "http://127.0.0.1:9/new",
        new_secret,
    )
    assert Webhook.objects.filter(project_id=operator.project_id()).count() == 1


# --- what projects see ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", OPERATOR_TYPES)
def test_a_project_cannot_subscribe_to_operator_types(make_key_client, event_type):
    project = uuid.uuid4()
    client = make_key_client(project)
    url = f"/api/projects/{project}/webhooks"
    body = {"name": "ops", "url": "https://hooks.example.com/x", "event_types": [event_type]}

    created = client.post(url, body, format="json")

    assert created.status_code == 400
    (message,) = created.json()["event_types"]
    assert message == (
        f"{event_type}: operator events go only to the service operator's webhook; "
        "a project cannot subscribe to them."
    )
    hook = WebhookFactory(project_id=project)
    changed = client.patch(f"{url}/{hook.id}", {"event_types": [event_type]}, format="json")
    assert changed.status_code == 400
    assert "event_types" in changed.json()
    assert not Webhook.objects.filter(event_types__contains=event_type).exists()


def test_operator_types_cannot_be_emitted_through_the_api(service_client):
    data = events.EVENT_TYPES["webhook.disabled"].example
    response = service_client.post(
        f"/api/projects/{operator.project_id()}/events",
        {"type": "webhook.disabled", "data": data},
        format="json",
    )
    assert response.status_code == 400
    assert "is not emittable" in response.json()["type"][0]
    assert not Event.objects.exists()


def test_the_catalogue_lists_operator_types_with_schemas_and_examples(service_client):
    served = {item["type"]: item for item in service_client.get("/api/event-types").json()}
    for name in OPERATOR_TYPES:
        entry = served[name]
        assert (entry["operator_only"], entry["emittable"]) == (True, False)
        assert entry["schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert entry["example"] == events.example_envelope(name)
        events.validate_data(events.EVENT_TYPES[name], entry["example"]["data"])
        assert name not in events.subscribable_types()
    assert served["config.deployed"]["operator_only"] is False


def test_operator_data_is_checked_against_its_json_schema():
    kind = events.EVENT_TYPES["delivery.exhausted"]
    bad = {"webhook": {"id": "x"}, "delivery": {"attempts": 0}}
    with pytest.raises(Exception) as caught:
        events.validate_data(kind, bad)
    paths = caught.value.detail
    assert paths["data.webhook.project_id"] == ["This field is required."]
    assert paths["data.webhook.id"] == ["Expected a UUID."]
    assert paths["data.delivery.attempts"] == ["Ensure this value is greater than or equal to 1."]
