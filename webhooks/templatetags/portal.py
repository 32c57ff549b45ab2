"""The portal's template filters: what a session may see of a URL or an error message."""

from django import template
from django.utils import timezone
from django.utils.timesince import timeuntil

from webhooks import wire
from webhooks.models import Delivery, PortalSession
from webhooks.portal.access import shown_url

register = template.Library()


@register.filter
def url_for(url: str, session: PortalSession) -> str:
    """Return a webhook URL as session may see it: {{ webhook.url|url_for:portal }}."""
    return shown_url(session, url)


@register.filter
def redacted_error(text: str) -> str:
    """Return an error message with the URLs and request paths in it redacted."""
    return wire.redacted_error(text or "")


@register.filter
def redacted_request_url(url: str) -> str:
    """Return an attempt's request URL redacted, as the API shows it to every caller."""
    return wire.redacted_url(url) if url else ""


@register.filter
def next_attempt(delivery: Delivery) -> str:
    """Return when the delivery is tried next: a time, "due now", "in progress" or ""."""
    if delivery.status == Delivery.Status.DELIVERING:
        return "in progress"
    if delivery.status != Delivery.Status.PENDING or delivery.next_attempt_at is None:
        return ""
    now = timezone.now()
    if delivery.next_attempt_at <= now:
        return "due now"
    at = timezone.localtime(delivery.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S")
    return f"{at} UTC (in {timeuntil(delivery.next_attempt_at, now, depth=1)})"
