"""Webhook pages: list, create, show (with health), edit, enable or disable, delete."""

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webhooks.conf import app_settings
from webhooks.models import Webhook
from webhooks.portal.access import page, portal_page
from webhooks.portal.charts import health_chart
from webhooks.portal.forms import RecoverForm, WebhookForm
from webhooks.services import webhooks as service
from webhooks.services.history import deliveries_of, health_series, webhook_stats
from webhooks.services.testing import PingOutcome

CHARTS = [("last_24h", "Last 24 hours, per hour", "%H:00"), ("last_7d", "Last 7 days", "%a %d")]
RECENT_DELIVERIES = 10  # on the webhook's page


def project_webhook(request: HttpRequest, webhook_id: uuid.UUID) -> Webhook:
    """Return the session's project's live webhook with this id, or raise Http404."""
    return get_object_or_404(service.live_webhooks(request.portal.project_id), id=webhook_id)


def with_notice(name: str, notice: str, **kwargs) -> HttpResponse:
    """Redirect to the named portal page, which then says what was done."""
    return redirect(f"{reverse(f'portal:{name}', kwargs=kwargs)}?notice={notice}")


@require_GET
@portal_page()
def webhook_list(request: HttpRequest) -> HttpResponse:
    """List the project's webhooks."""
    webhooks = service.live_webhooks(request.portal.project_id).order_by("-id")
    return page(request, "portal/webhook_list.html", {"webhooks": webhooks})


@require_http_methods(["GET", "POST"])
@portal_page(write=True)
def webhook_create(request: HttpRequest) -> HttpResponse:
    """Show the new-webhook form; create the webhook it describes."""
    form = WebhookForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            webhook = service.create_webhook(request.portal.project_id, **form.changes)
        except service.WebhookLimitReached as limit:
            form.add_error(None, limit.messages)
        else:
            return with_notice("webhook", "created", webhook_id=webhook.id)
    status = 400 if form.errors else 200
    return page(request, "portal/webhook_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@portal_page(write=True)
def webhook_edit(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Show the webhook's settings in a form; save the changes."""
    webhook = project_webhook(request, webhook_id)
    data = request.POST if request.method == "POST" else None
    form = WebhookForm(data, webhook=webhook)
    if form.is_bound and form.is_valid():
        service.update_webhook(webhook, **form.changes)
        return with_notice("webhook", "saved", webhook_id=webhook.id)
    status = 400 if form.errors else 200
    context = {"form": form, "webhook": webhook}
    return page(request, "portal/webhook_form.html", context, status=status)


def detail_page(
    request: HttpRequest,
    webhook: Webhook,
    *,
    ping: PingOutcome | None = None,
    ping_refused: str = "",
    recover: RecoverForm | None = None,
    recovered: int | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the webhook's page: settings, health, recent deliveries, actions, and a ping or
    recover result."""
    charts = [
        {
            "window": window,
            "title": title,
            **health_chart(health_series(webhook, window), label_format),
        }
        for window, title, label_format in CHARTS
    ]
    context = {
        "webhook": webhook,
        "deliveries": list(
            deliveries_of(webhook).defer("event__body").order_by("-id")[:RECENT_DELIVERIES]
        ),
        "stats": webhook_stats(webhook),
        "charts": charts,
        "ping": ping,
        "ping_refused": ping_refused,
        "recover": recover or RecoverForm(),
        "recovered": recovered,
        "recover_days": app_settings.RECOVER_MAX_DAYS,
    }
    return page(request, "portal/webhook_detail.html", context, status=status)


@require_GET
@portal_page()
def webhook_detail(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Show a webhook, its health over 24 h and 7 days, and what can be done with it."""
    return detail_page(request, project_webhook(request, webhook_id))


@require_POST
@portal_page(write=True)
def webhook_toggle(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Enable or disable the webhook (enabling also clears a disabled-by-failures state)."""
    webhook = project_webhook(request, webhook_id)
    active = request.POST.get("is_active") == "true"
    service.update_webhook(webhook, is_active=active)
    return with_notice("webhook", "enabled" if active else "disabled", webhook_id=webhook.id)


@require_http_methods(["GET", "POST"])
@portal_page(write=True)
def webhook_delete(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Ask to confirm; delete the webhook (its delivery history stays)."""
    webhook = project_webhook(request, webhook_id)
    if request.method == "POST":
        service.delete_webhook(webhook)
        return with_notice("home", "deleted")
    context = {
        "webhook": webhook,
        "title": f"Delete {webhook.name}?",
        "text": "It stops receiving events at once. Its delivery history stays readable "
        "through the API.",
        "action": "Delete the webhook",
        "danger": True,
    }
    return page(request, "portal/confirm.html", context)
