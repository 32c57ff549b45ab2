"""factory_boy factories for every model."""

import json
import uuid

import factory
from django.utils import timezone

from webhooks.models import ApiKey, Delivery, DeliveryAttempt, Event, Webhook
from webhooks.signing import generate_secret, generate_signing_key


class WebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Webhook

    project_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"hook {n}")
    url = "https://hooks.example.com/agenta"
    event_types = factory.LazyFunction(lambda: ["config.deployed"])
    secret = factory.LazyFunction(generate_secret)
    signature_schemes = factory.LazyFunction(lambda: ["v1"])
    # Only a v1a webhook gets a key here (the API gives every new one a key).
    signing_key = factory.LazyAttribute(
        lambda o: generate_signing_key() if "v1a" in o.signature_schemes else None
    )


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    project_id = factory.LazyFunction(uuid.uuid4)
    type = "config.deployed"
    environment = "production"
    application_slug = "my-app"
    body = factory.LazyAttribute(
        lambda o: json.dumps(
            {
                "id": str(uuid.uuid4()),
                "type": o.type,
                "timestamp": timezone.now().isoformat(),
                "project_id": str(o.project_id),
                "data": {"config": {"environment_ref": {"slug": o.environment}}},
            },
            separators=(",", ":"),
        )
    )


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    webhook = factory.SubFactory(WebhookFactory)
    event = factory.SubFactory(
        EventFactory, project_id=factory.SelfAttribute("..webhook.project_id")
    )
    next_attempt_at = factory.LazyFunction(timezone.now)


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = factory.Sequence(lambda n: n + 1)
    started_at = factory.LazyFunction(timezone.now)
    duration_ms = 12
    request_url = factory.SelfAttribute("delivery.webhook.url")
    response_status = 200


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    project_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"key {n}")
    prefix = factory.Sequence(lambda n: f"ak_{n:08d}")
    secret_hash = "0" * 64
    scopes = factory.LazyFunction(lambda: ["webhooks:read"])
