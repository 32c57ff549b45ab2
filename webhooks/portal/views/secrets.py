"""The signing secret: reveal it (confirmed, and recorded) and regenerate it."""

import uuid

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from webhooks.conf import app_settings
from webhooks.models import Webhook
from webhooks.portal.access import page, portal_page
from webhooks.portal.views.webhooks import project_webhook
from webhooks.services import webhooks as service
from webhooks.services.audit import record_secret_read


def _show(request: HttpRequest, webhook: Webhook, heading: str) -> HttpResponse:
    session = request.portal
    record_secret_read(
        webhook,
        actor=session.actor or f"portal session {session.id}",
        address=request.META.get("REMOTE_ADDR"),
        via="portal",
    )
    context = {
        "webhook": webhook,
        "heading": heading,
        "secrets": webhook.signing_secrets(timezone.now()),
    }
    return page(request, "portal/secret.html", context)


@require_http_methods(["GET", "POST"])
@portal_page(write=True)
def secret_reveal(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Ask to confirm; show the signing secret and record who saw it."""
    webhook = project_webhook(request, webhook_id)
    if request.method == "POST":
        return _show(request, webhook, "Signing secret")
    context = {
        "webhook": webhook,
        "title": "Reveal the signing secret?",
        "text": "Anyone holding it can forge events to your endpoint. The view is recorded.",
        "action": "Reveal the secret",
    }
    return page(request, "portal/confirm.html", context)


@require_http_methods(["GET", "POST"])
@portal_page(write=True)
def secret_regenerate(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Ask to confirm; give the webhook a new secret and show it once."""
    webhook = project_webhook(request, webhook_id)
    if request.method == "POST":
        return _show(request, service.regenerate_secret(webhook), "New signing secret")
    context = {
        "webhook": webhook,
        "title": "Regenerate the signing secret?",
        "text": "Deliveries are signed with the new secret and, for "
        f"{app_settings.SECRET_GRACE_PERIOD_SECONDS // 3600} hours, with the old one too, so "
        "your endpoint can switch without missing events.",
        "action": "Regenerate the secret",
        "danger": True,
    }
    return page(request, "portal/confirm.html", context)
