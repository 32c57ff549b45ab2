"""Webhook representations; the secret appears only in the answers made to reveal it."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks import signing, validators, wire
from webhooks.conf import app_settings
from webhooks.fields import is_undecryptable
from webhooks.models import MAX_IN_FLIGHT_LIMIT, Webhook
from webhooks.serializers import (
    RejectUnknownFieldsMixin,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from webhooks.serializers.signing_keys import SignatureSchemesField
from webhooks.services.webhooks import EDITABLE_FIELDS, MAX_GRACE_PERIOD_SECONDS

SECRET_HELP = "whsec_ + base64 of 32 random bytes: the Standard Webhooks signing key."


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "description": 'Event type names (see GET /api/event-types), or ["*"] for all.',
        "example": ["config.deployed"],
    }
)
class EventTypesField(serializers.JSONField):
    def to_internal_value(self, data):
        return validators.clean_event_types(data)


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "applications": {"type": "array", "items": {"type": "string"}},
            "environments": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
        "description": "Deliver only events of these applications / environments; "
        "an empty list means all.",
    }
)
class FiltersField(serializers.JSONField):
    def to_internal_value(self, data):
        return validators.clean_filters(data)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Custom request headers (at most 20). Authorization is allowed; "
        "Content-Type, Content-Length, Host, User-Agent, traceparent, tracestate, webhook-* and "
        "X-Agenta-* are reserved. "
        "Values are encrypted at rest; credential-like ones (names containing auth, token, key, "
        f"secret, cookie, ...) are shown as {wire.REDACTED!r}, and sending that placeholder "
        "back keeps the stored value.",
        "example": {"Authorization": "Bearer <token>"},
    }
)
class HeadersField(serializers.JSONField):
    def to_internal_value(self, data):
        return validators.clean_headers(data)

    def to_representation(self, value):
        if is_undecryptable(value):
            return {}  # listed in undecryptable_fields; regenerate-secret clears them
        return wire.redacted(value or {})


URL_HELP = (
    "Shown whole only to callers who may change the webhook (webhooks:write); others see "
    "https://host/…?name=… (path and query values redacted). null when it can't be decrypted."
)


class UrlField(StrictCharField):
    """The URL whole for callers who may change the webhook, else with its credentials cut."""

    def to_representation(self, value):
        if is_undecryptable(value):
            return None
        request = self.context.get("request")
        principal = getattr(request, "user", None)
        return wire.shown_url(value, getattr(principal, "may_read_credentials", False))


class WebhookSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A webhook as the API shows it (never with its secret)."""

    name = StrictCharField(max_length=200)
    description = StrictCharField(max_length=2000, required=False, allow_blank=True)
    url = UrlField(max_length=2048, help_text=f"http(s) URL that receives the events. {URL_HELP}")
    event_types = EventTypesField(required=False)
    filters = FiltersField(required=False)
    headers = HeadersField(required=False)
    is_active = StrictBooleanField(required=False)
    max_in_flight = StrictIntegerField(
        min_value=1,
        max_value=MAX_IN_FLIGHT_LIMIT,
        required=False,
        allow_null=True,
        help_text="Attempts of this webhook in flight at once, at most (1 up to the project's "
        "cap, WEBHOOKS['MAX_IN_FLIGHT_PER_PROJECT'], 8 by default); null: the service's default "
        "(4). Lower it for an endpoint that can't take several requests at once.",
    )
    consecutive_failures = serializers.IntegerField(
        read_only=True,
        help_text="Automatic attempts that failed or timed out in a row (0 after a success).",
    )
    circuit_open_since = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Set while the circuit breaker holds the webhook to one attempt at a time "
        "(after WEBHOOKS['CIRCUIT_BREAKER_FAILURES'] failures in a row, 3 by default); null "
        "again after an attempt succeeds.",
    )
    signature_schemes = SignatureSchemesField(required=False)
    public_key = serializers.SerializerMethodField(
        help_text="whpk_ + base64: the current ed25519 public key that verifies this webhook's "
        "v1a signatures (published before v1a is chosen, so receivers can be ready); null for a "
        "webhook made before v1a existed, until v1a is chosen."
    )
    secret_status = serializers.ChoiceField(
        choices=["ok", "undecryptable"],
        read_only=True,
        help_text='"undecryptable" when no configured encryption key reads the secret or the '
        "custom headers: nothing is delivered until POST .../regenerate-secret replaces them.",
    )
    undecryptable_fields = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text='Which of "url", "headers", "secret" can\'t be decrypted (usually empty).',
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "project_id",
            *EDITABLE_FIELDS,
            "public_key",
            "secret_status",
            "undecryptable_fields",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "circuit_open_since",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "project_id",
            "disabled_reason",
            "disabled_at",
            "created_at",
            "updated_at",
        ]

    def get_public_key(self, webhook: Webhook) -> str | None:
        key = webhook.signing_key
        return None if not key or is_undecryptable(key) else signing.public_key(key)

    def validate_url(self, value: str) -> str:
        return validators.clean_url(value)

    def validate_max_in_flight(self, value: int | None) -> int | None:
        cap = app_settings.MAX_IN_FLIGHT_PER_PROJECT
        if value is not None and value > cap:
            raise serializers.ValidationError(
                f"Ensure this value is less than or equal to {cap}: a project's attempts in "
                f"flight at once, across all its webhooks, are capped at {cap}."
            )
        return value

    def validate_headers(self, value: dict[str, str]) -> dict[str, str]:
        # Credential values are shown redacted; the placeholder sent back means "keep it".
        headers = self.instance.headers if self.instance else {}
        headers = {} if is_undecryptable(headers) else headers
        stored = {k.lower(): v for k, v in headers.items()}
        kept, missing = dict(value), []
        for name, header_value in value.items():
            if header_value == wire.REDACTED and wire.is_sensitive(name):
                if name.lower() in stored:
                    kept[name] = stored[name.lower()]
                else:
                    missing.append(name)
        if missing:
            raise serializers.ValidationError(
                f"{wire.REDACTED!r} keeps a stored value, but {', '.join(missing)} has none."
            )
        return kept


class WebhookWithSecretSerializer(WebhookSerializer):
    """A newly created webhook: the only representation that carries the secret."""

    secret = serializers.CharField(read_only=True, help_text=SECRET_HELP)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text=SECRET_HELP)


class RegenerateSecretSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    grace_period_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_PERIOD_SECONDS,
        help_text="How long the previous secret keeps signing deliveries (default 86400).",
    )


class RegeneratedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text=SECRET_HELP)
    cleared = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text='Fields that could not be decrypted and were emptied (["headers"]): set them '
        "again with PATCH. Usually empty.",
    )
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the previous secret stops signing; null when it stopped at once.",
    )


class WebhookListQuerySerializer(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, help_text="Only active or inactive ones.")
    event_type = serializers.CharField(
        required=False, help_text='Only webhooks that receive this type (including "*" ones).'
    )
