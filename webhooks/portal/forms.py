"""The portal's forms: HTML inputs in the API's shapes, validated by the API's rules."""

from django import forms
from django.core.exceptions import ValidationError

from webhooks import wire
from webhooks.events import EVENT_TYPES, WILDCARD, subscribable_types
from webhooks.models import MAX_IN_FLIGHT_LIMIT, Webhook
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


def subscription_choices() -> list[tuple[str, str]]:
    """Return the event types a webhook form offers: those a project's webhook can be sent.

    The API's list (events.subscribable_types: no operator event), without the ones nobody
    emits: webhook.test reaches a webhook when asked for, whatever it subscribes to.
    """
    offered = [EVENT_TYPES[name] for name in subscribable_types() if EVENT_TYPES[name].emittable]
    return [(WILDCARD, "All event types, present and future")] + [
        (t.name, f"{t.name}: {t.description}") for t in offered
    ]


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
        choices=subscription_choices,
        help_text="Test pings reach the webhook whatever it subscribes to; operator events "
        "go only to the service's operator (see Event types).",
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


class RecoverForm(forms.Form):
    """Re-send the failed deliveries created since a time."""

    since = forms.DateTimeField(
        label="Failed since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
