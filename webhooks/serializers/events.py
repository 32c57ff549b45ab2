"""Event serializers: the shapes of the events API (data schemas are in event_schemas.py)."""

import json
from collections import Counter
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import Delivery, Event, Webhook
from webhooks.serializers.deliveries import DELIVERY_TRIGGER_HELP
from webhooks.serializers.webhooks import URL_HELP, UrlField


class EmitEvent(serializers.Serializer):
    type = serializers.CharField(max_length=100, help_text="An emittable event type.")
    data = serializers.JSONField(help_text="The event's data; see GET /api/event-types.")
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (ISO 8601); the envelope's timestamp."
    )


def _filter() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class EventFilters(serializers.Serializer):
    """The list's query parameters. CharField refuses NUL characters, which PostgreSQL can't
    compare: a 400 naming the parameter instead of a 500."""

    type = _filter()
    environment = _filter()
    application = _filter()
    idempotency_key = _filter()


class EmittedEvent(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    deliveries = serializers.IntegerField(help_text="How many webhooks the event fans out to.")


class IdempotencyConflict(serializers.Serializer):
    detail = serializers.CharField()
    event_id = serializers.UUIDField(help_text="The event stored with this key first.")


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
    url = UrlField(read_only=True, help_text=URL_HELP)

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
        extra_kwargs = {"trigger": {"help_text": DELIVERY_TRIGGER_HELP}}


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
