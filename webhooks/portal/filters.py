"""The history pages' queries: search by id, a date range, status and type, a page at a time."""

import uuid
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from webhooks.events import subscribable_types
from webhooks.models import Delivery

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class HistoryFilterForm(forms.Form):
    """What the deliveries and the events pages share: an id to find, dates, the page cursor."""

    search = forms.CharField(
        required=False,
        label="Event id or webhook-id",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "spellcheck": "false", "size": 38}),
    )
    created_from = forms.DateField(required=False, label="From (UTC)", widget=DATE)
    created_to = forms.DateField(required=False, label="To (UTC)", widget=DATE)
    before = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean_search(self) -> uuid.UUID | None:
        text = self.cleaned_data["search"].strip()
        if not text:
            return None
        try:
            return uuid.UUID(text)
        except ValueError:
            raise ValidationError(
                "Paste an event id or a delivery's webhook-id header, such as "
                "0196f0d0-4a5b-7c6d-8e9f-0a1b2c3d4e5f."
            ) from None

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and end < start:
            self.add_error("created_to", "Pick a day on or after the first one.")
        return data

    def created_range(self) -> tuple[datetime | None, datetime | None]:
        """Return the [after, before) bounds of the chosen days, the last day included."""
        start, end = self.cleaned_data.get("created_from"), self.cleaned_data.get("created_to")
        after = datetime.combine(start, time(), tzinfo=UTC) if start else None
        before = datetime.combine(end, time(), tzinfo=UTC) + timedelta(days=1) if end else None
        return after, before


class DeliveryFilterForm(HistoryFilterForm):
    """The delivery list's query: also the status and the event type."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Delivery.Status.choices]
    )
    event_type = forms.ChoiceField(
        required=False,
        label="Event type",
        choices=lambda: [("", "Any type")] + [(name, name) for name in subscribable_types()],
    )
    field_order = ["search", "status", "event_type", "created_from", "created_to"]

    def apply(self, deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
        """Return deliveries narrowed to the chosen id, status, type and days."""
        chosen = self.cleaned_data
        if chosen["search"]:
            # webhook-id is the delivery's id; an event id finds its delivery to this webhook.
            deliveries = deliveries.filter(Q(id=chosen["search"]) | Q(event_id=chosen["search"]))
        if chosen["status"]:
            deliveries = deliveries.filter(status=chosen["status"])
        if chosen["event_type"]:
            deliveries = deliveries.filter(event__type=chosen["event_type"])
        return _in_range(deliveries, self.created_range())


class EventFilterForm(HistoryFilterForm):
    """The project's event list's query: also the event type."""

    event_type = forms.ChoiceField(
        required=False,
        label="Event type",
        choices=lambda: [("", "Any type")] + [(name, name) for name in subscribable_types()],
    )
    field_order = ["search", "event_type", "created_from", "created_to"]

    def apply(self, events: QuerySet) -> QuerySet:
        """Return events narrowed to the chosen id (or a delivery's), type and days."""
        chosen = self.cleaned_data
        if chosen["search"]:
            found = chosen["search"]
            delivered = Delivery.objects.filter(id=found).values("event_id")
            events = events.filter(Q(id=found) | Q(id__in=delivered))
        if chosen["event_type"]:
            events = events.filter(type=chosen["event_type"])
        return _in_range(events, self.created_range())


def _in_range(rows: QuerySet, bounds: tuple[datetime | None, datetime | None]) -> QuerySet:
    after, before = bounds
    if after:
        rows = rows.filter(created_at__gte=after)
    if before:
        rows = rows.filter(created_at__lt=before)
    return rows


def page_of(rows: QuerySet, before: uuid.UUID | None, size: int) -> tuple[list, bool]:
    """Return up to size rows older than the cursor before (newest first), and whether more."""
    rows = rows.order_by("-id")
    if before:
        rows = rows.filter(id__lt=before)
    found = list(rows[: size + 1])
    return found[:size], len(found) > size


def next_query(request: HttpRequest, rows: list, more: bool) -> str:
    """Return the query string of the next (older) page, or "" on the last page."""
    if not more:
        return ""
    query = request.GET.copy()
    query["before"] = str(rows[-1].id)
    return query.urlencode()
