"""Event serializers: each type's data schema (checked on emit) and the events API shapes."""

import json
from collections import Counter
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from webhooks.models import Delivery, Event, Webhook

# Data schemas. They only validate: the data is stored and sent as the emitter wrote it, so
# unknown fields are kept and Agenta can add fields without a change here.


class Reference(serializers.Serializer):
    """Agenta's ReferenceDTO: an entity by id and/or slug, and a version."""

    id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    slug = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    version = serializers.IntegerField(required=False, allow_null=True)
    commit_message = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class IdOrSlugReference(Reference):
    """A reference that must name its entity by id or by slug."""

    def validate(self, attrs: dict) -> dict:
        if not (attrs.get("id") or attrs.get("slug")):
            raise ValidationError("Give an id or a slug.")
        return attrs


class SlugReference(Reference):
    """A reference that must carry a slug (environments are matched by slug)."""

    slug = serializers.CharField(max_length=255)


class Lifecycle(serializers.Serializer):
    """Agenta's LifecycleDTO: who changed the entity, and when."""

    created_at = serializers.DateTimeField(required=False, allow_null=True)
    updated_at = serializers.DateTimeField(required=False, allow_null=True)
    updated_by_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    updated_by = serializers.CharField(required=False, allow_null=True, allow_blank=True)


def _lifecycle() -> Lifecycle:
    return Lifecycle(required=False, allow_null=True)


def _user(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True, help_text=help_text
    )


class Config(serializers.Serializer):
    """Agenta's ConfigResponseModel, as configs_deploy returns it."""

    params = serializers.DictField(required=False, help_text="The prompt config's parameters.")
    url = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    application_ref = IdOrSlugReference(help_text="The application; id or slug is required.")
    service_ref = Reference(required=False, allow_null=True)
    variant_ref = Reference(required=False, allow_null=True)
    environment_ref = SlugReference(help_text="The environment deployed to; slug is required.")
    application_lifecycle = _lifecycle()
    service_lifecycle = _lifecycle()
    variant_lifecycle = _lifecycle()
    environment_lifecycle = _lifecycle()


class CommittedConfig(Config):
    """A config committed to a variant: no environment, but the variant is named."""

    variant_ref = IdOrSlugReference(help_text="The variant committed to; id or slug is required.")
    environment_ref = Reference(required=False, allow_null=True)


class ConfigDeployedData(serializers.Serializer):
    config = Config()
    deployed_by = _user("The id of the user who deployed.")


class ConfigCommittedData(serializers.Serializer):
    config = CommittedConfig()
    committed_by = _user("The id of the user who committed.")


class VariantCreatedData(serializers.Serializer):
    application_ref = IdOrSlugReference()
    variant_ref = IdOrSlugReference()
    created_by = _user("The id of the user who created the variant.")


class VariantDeletedData(serializers.Serializer):
    application_ref = IdOrSlugReference()
    variant_ref = IdOrSlugReference()
    deleted_by = _user("The id of the user who deleted the variant.")


class Evaluation(serializers.Serializer):
    id = serializers.CharField(max_length=255)
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    status = serializers.CharField(max_length=100, help_text="How the run ended, e.g. success.")


class EvaluationCompletedData(serializers.Serializer):
    evaluation = Evaluation()
    application_ref = IdOrSlugReference(required=False, allow_null=True)
    variant_ref = Reference(required=False, allow_null=True)


class WebhookTestData(serializers.Serializer):
    webhook_id = serializers.UUIDField()
    message = serializers.CharField()


_JSON_TYPES = [
    (serializers.BooleanField, {"type": "boolean"}),
    (serializers.IntegerField, {"type": "integer"}),
    (serializers.DateTimeField, {"type": "string", "format": "date-time"}),
    (serializers.UUIDField, {"type": "string", "format": "uuid"}),
    (serializers.CharField, {"type": "string"}),
    (serializers.DictField, {"type": "object"}),
]


def json_schema(field: serializers.Field) -> dict:
    """Return the JSON Schema of a data schema (a serializer) or of one of its fields."""
    if isinstance(field, serializers.Serializer):
        fields = field.fields
        schema: dict = {
            "type": "object",
            "properties": {name: json_schema(child) for name, child in fields.items()},
        }
        required = [name for name, child in fields.items() if child.required]
        if required:
            schema["required"] = required
    else:
        schema = next((dict(s) for kind, s in _JSON_TYPES if isinstance(field, kind)), {})
    if getattr(field, "max_length", None):
        schema["maxLength"] = field.max_length
    if field.allow_null and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if field.help_text:
        schema["description"] = str(field.help_text)
    return schema


# The events API.


class EmitEvent(serializers.Serializer):
    type = serializers.CharField(max_length=100, help_text="An emittable event type.")
    data = serializers.JSONField(help_text="The event's data; see GET /api/event-types.")
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (ISO 8601); the envelope's timestamp."
    )


class EmittedEvent(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    deliveries = serializers.IntegerField(help_text="How many webhooks the event fans out to.")


class EventTypeInfo(serializers.Serializer):
    type = serializers.CharField()
    description = serializers.CharField()
    emittable = serializers.BooleanField()
    operator_only = serializers.BooleanField(
        help_text="Sent only to the operator's webhook; no project can subscribe to it."
    )
    schema = serializers.JSONField(help_text="JSON Schema of data; extra fields are allowed.")
    example = serializers.JSONField(help_text="A whole payload as a receiver gets it.")


class DeliveryCounts(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    delivering = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


def count_statuses(counts: Mapping[str, int]) -> dict[str, int]:
    """Return {"total": n, "<status>": n, ...} over every delivery status."""
    by_status = {s: counts.get(s, 0) for s in Delivery.Status.values}
    return {"total": sum(by_status.values())} | by_status


class WebhookSummary(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "is_active", "deleted_at"]


class DeliverySummary(serializers.ModelSerializer):
    webhook = WebhookSummary()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "status",
            "trigger",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "updated_at",
        ]


class EventSerializer(serializers.ModelSerializer):
    """An event in the list; context["delivery_counts"] maps event ids to {status: count}."""

    delivery_counts = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "idempotency_key",
            "application_id",
            "application_slug",
            "environment",
            "created_at",
            "delivery_counts",
        ]

    @extend_schema_field(DeliveryCounts)
    def get_delivery_counts(self, event: Event) -> dict[str, int]:
        return count_statuses(self.context["delivery_counts"].get(event.id, {}))


class EventDetailSerializer(EventSerializer):
    """An event with its payload and every delivery (prefetched with their webhooks)."""

    payload = serializers.SerializerMethodField()
    deliveries = DeliverySummary(many=True)

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "payload", "deliveries"]

    @extend_schema_field(DeliveryCounts)
    def get_delivery_counts(self, event: Event) -> dict[str, int]:
        return count_statuses(Counter(d.status for d in event.deliveries.all()))

    @extend_schema_field(serializers.JSONField(help_text="The exact body sent to webhooks."))
    def get_payload(self, event: Event) -> dict:
        return json.loads(event.body)
