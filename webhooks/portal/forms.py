"""The portal's forms: HTML inputs in the API's shapes, validated by the API's rules."""

from django import forms
from django.core.exceptions import ValidationError

from webhooks import wire
from webhooks.events import EVENT_TYPES, WILDCARD
from webhooks.models import MAX_IN_FLIGHT_LIMIT, Delivery, Webhook
from webhooks.serializers.webhooks import WebhookSerializer

# The API field an error names -> the form field that shows it (None: above the form).
ERROR_FIELDS = {
    "name": "name",
    "description": "description",
    "url": "url",
    "event_types": "event_types",
    "headers": "headers",
    "max_in_flight": "max_in_flight",
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class WebhookForm(forms.Form):
    """Create or edit a webhook; WebhookSerializer (the API's rules) does the validating."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/agenta-webhooks"}),
    )
    event_types = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        choices=[(WILDCARD, "All event types, present and future")]
        + [(name, f"{name}: {t.description}") for name, t in EVENT_TYPES.items()],
        initial=["config.deployed"],
    )
    applications = forms.CharField(
        required=False, help_text="Application ids or slugs, comma-separated. Empty: all."
    )
    environments = forms.CharField(
        required=False, help_text="Environment slugs, comma-separated. Empty: all."
    )
    headers = forms.CharField(
        label="Custom headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Authorization: Bearer <token>"}),
        help_text=f"One per line, as Name: value. A value shown as {wire.REDACTED} is kept.",
    )
    max_in_flight = forms.IntegerField(
        label="Requests at once",
        required=False,
        min_value=1,
        max_value=MAX_IN_FLIGHT_LIMIT,
        help_text="At most this many requests to the endpoint at once (1 up to the project's cap, "
        "8 by default). Empty: the service's default (4).",
    )

    def __init__(self, *args, webhook: Webhook | None = None, **kwargs) -> None:
        self.webhook = webhook
        if webhook is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": webhook.name,
                    "description": webhook.description,
                    "url": webhook.url,
                    "event_types": webhook.event_types,
                    "applications": ", ".join(webhook.filters.get("applications", [])),
                    "environments": ", ".join(webhook.filters.get("environments", [])),
                    "headers": "\n".join(
                        f"{name}: {value}" for name, value in wire.redacted(webhook.headers).items()
                    ),
                    "max_in_flight": webhook.max_in_flight,
                },
            )
        super().__init__(*args, **kwargs)
        self.changes: dict = {}

    def clean_headers(self) -> dict[str, str]:
        headers, errors = {}, []
        for number, line in enumerate(self.cleaned_data["headers"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                errors.append(f"Line {number}: write a header as Name: value.")
            headers[name.strip()] = value.strip()
        if errors:
            raise ValidationError(errors)
        return headers

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        payload = {
            "name": data["name"],
            "description": data["description"],
            "url": data["url"],
            "event_types": data["event_types"],
            "filters": {
                "applications": _split(data["applications"]),
                "environments": _split(data["environments"]),
            },
            "headers": data["headers"],
            "max_in_flight": data["max_in_flight"],
        }
        api = WebhookSerializer(self.webhook, data=payload, partial=self.webhook is not None)
        if api.is_valid():
            self.changes = dict(api.validated_data)
        for field, messages in api.errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                target = ERROR_FIELDS.get(field)
                self.add_error(target, message if target else f"{field}: {message}")
        return data


class DeliveryFilterForm(forms.Form):
    """The delivery list's query: status, event type, and the page cursor."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Delivery.Status.choices]
    )
    event_type = forms.ChoiceField(
        required=False,
        label="Event type",
        choices=[("", "Any type")] + [(name, name) for name in EVENT_TYPES],
    )
    before = forms.UUIDField(required=False, widget=forms.HiddenInput)


class RecoverForm(forms.Form):
    """Re-send the failed deliveries created since a time."""

    since = forms.DateTimeField(
        label="Failed since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
