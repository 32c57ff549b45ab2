"""Delivery history, attempts, and the request bodies of retry, test and recover."""

import json

from rest_framework import serializers

from webhooks import wire
from webhooks.events import subscribable_types
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.serializers import RejectUnknownFieldsMixin

DELIVERY_TRIGGER_HELP = (
    "While pending, what starts its next attempt; once finished, what started its last one: "
    "auto (the retry schedule), manual (Retry now, API retry, admin Redeliver), recover, or "
    "test (a test ping's delivery stays test whoever sends it again)."
)
ATTEMPT_TRIGGER_HELP = (
    "What started this attempt: auto (the schedule), manual (a person: Retry now, API retry, "
    "admin Redeliver), recover, or test (the test ping itself). Only auto attempts move the "
    "retry schedule."
)


def redact_headers(headers: dict | None) -> dict:
    """Return headers with the values of credential-like names replaced by [redacted]."""
    # The engine stores attempts redacted already; this guards rows from any other writer.
    return wire.redacted(headers or {})


class ErrorTextField(serializers.CharField):
    """An error message as recorded, with the URLs and request paths in it redacted."""

    def to_representation(self, value) -> str:
        return wire.redacted_error(super().to_representation(value))


class StatusListField(serializers.Field):
    """One status or several, comma-separated: ?status=failed,pending."""

    default_error_messages = {"invalid_choice": "{value!r} is not one of: {choices}."}

    def to_internal_value(self, data) -> list[str]:
        values = [part.strip() for part in str(data).split(",") if part.strip()]
        for value in values:
            if value not in Delivery.Status.values:
                self.fail("invalid_choice", value=value, choices=", ".join(Delivery.Status.values))
        return values

    def to_representation(self, value):
        return ",".join(value)


class DeliveryFilterSerializer(serializers.Serializer):
    """The query string of the delivery list."""

    status = StatusListField(required=False)
    event_type = serializers.ChoiceField(choices=[], required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = subscribable_types()

    def validate(self, attrs):
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"created_before": "Must be later than created_after."}
            )
        return attrs


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery as the history list shows it."""

    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    webhook_id = serializers.UUIDField(read_only=True)
    last_error = ErrorTextField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "webhook_id",
            "status",
            "trigger",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "updated_at",
            "delivered_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"trigger": {"help_text": DELIVERY_TRIGGER_HELP}}


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One HTTP try: what was sent, what came back, and the error."""

    request_url = serializers.SerializerMethodField(
        help_text="Where it was sent, with the path and query values redacted (https://host/…)."
    )
    request_headers = serializers.SerializerMethodField()
    response_headers = serializers.SerializerMethodField()
    error_message = ErrorTextField(read_only=True)

    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "number",
            "trigger",
            "started_at",
            "duration_ms",
            "request_url",
            "request_headers",
            "response_status",
            "response_headers",
            "response_body",
            "error_kind",
            "error_message",
        ]
        read_only_fields = fields
        extra_kwargs = {"trigger": {"help_text": ATTEMPT_TRIGGER_HELP}}

    def get_request_url(self, attempt: DeliveryAttempt) -> str:
        # The engine stores it redacted; this also covers attempts recorded before it did.
        return wire.redacted_url(attempt.request_url)

    def get_request_headers(self, attempt: DeliveryAttempt) -> dict[str, str]:
        return redact_headers(attempt.request_headers)

    def get_response_headers(self, attempt: DeliveryAttempt) -> dict[str, str]:
        return redact_headers(attempt.response_headers)


class DeliveryEventSerializer(serializers.ModelSerializer):
    """The event a delivery carries, with the JSON body it sends."""

    payload = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "payload"]
        read_only_fields = fields

    def get_payload(self, event: Event) -> dict | str:
        try:
            return json.loads(event.body)
        except ValueError:
            return event.body


class DeliveryDetailSerializer(DeliverySerializer):
    """A delivery with its event body and every attempt."""

    event = DeliveryEventSerializer(read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "event", "attempts"]
        read_only_fields = fields


class RecoverSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """POST .../recover: re-queue the failed deliveries of real events created in [since, until)."""

    since = serializers.DateTimeField(
        required=False,
        help_text="Start of the window (ISO 8601); default: RECOVER_DEFAULT_DAYS (1 day) ago. "
        "At most RECOVER_MAX_DAYS (14) back.",
    )
    until = serializers.DateTimeField(
        required=False, help_text="End of the window, exclusive (ISO 8601); default: now."
    )


class StatusCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    delivering = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


class WebhookStatsSerializer(serializers.Serializer):
    """GET .../stats: counts by status over 24 h and 7 days, and endpoint health."""

    last_24h = StatusCountsSerializer()
    last_7d = StatusCountsSerializer()
    last_success_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_blank=True)


class PingOutcomeSerializer(serializers.Serializer):
    """POST .../test: the outcome of the test ping's attempt."""

    delivery_id = serializers.UUIDField()
    event_id = serializers.UUIDField()
    succeeded = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    response_body_excerpt = serializers.CharField(allow_blank=True)
    error_kind = serializers.CharField(allow_blank=True)
    error = ErrorTextField(allow_blank=True)
