"""How the admin pages show ids, states and URLs: short, coloured, redacted by permission."""

import json

from django.db.models import QuerySet, Value
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from webhooks import wire
from webhooks.fields import is_undecryptable

# The portal's colours: green done, red failed, amber waiting, blue in flight, grey off.
_COLOURS = {
    "succeeded": "#1a7f37",
    "failed": "#cf222e",
    "pending": "#9a6700",
    "delivering": "#0969da",
    "active": "#1a7f37",
    "failing": "#cf222e",
    "disabled": "#6e7781",
}
SHORT_ID_CHARS = 8
WRITE_PERMISSION = "webhooks.change_webhook"


def short_id(value) -> str:
    """Return the first characters of an id, the whole one in a tooltip."""
    text = str(value)
    return format_html('<code title="{}">{}…</code>', text, text[:SHORT_ID_CHARS])


def badge(state: str, label: str = "") -> str:
    """Return state (or label) in bold, in the state's colour."""
    colour = _COLOURS.get(state, "inherit")
    return format_html(
        '<strong style="color:{};white-space:nowrap">{}</strong>', colour, label or state
    )


def with_url_visibility(queryset: QuerySet, request) -> QuerySet:
    """Annotate each row with whether this staff user may see its webhook's whole URL."""
    return queryset.annotate(url_visible=Value(request.user.has_perm(WRITE_PERMISSION)))


def webhook_url(url, visible: bool) -> str:
    """Return a webhook's URL as this staff user may see it (wire.shown_url), wrapping."""
    if is_undecryptable(url):
        return "undecryptable: set the URL again through the API"
    # A Slack URL is 80 characters without a break: wrap it anywhere rather than widen the list.
    return format_html(
        '<span style="display:inline-block;min-width:14em;overflow-wrap:anywhere">{}</span>',
        wire.shown_url(url, visible),
    )


def pretty(value) -> str:
    """Return value as indented JSON in a <pre>."""
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def moment(value) -> str:
    """Return a time as 2026-12-07 05:50:12 UTC (the admin's DATETIME_FORMAT), unbroken."""
    if value is None:
        return "-"
    return format_html(
        '<span style="white-space:nowrap">{}</span>',
        date_format(localtime(value), "DATETIME_FORMAT"),
    )
