"""Delivery pages: the list and one delivery's attempts; retry, recover and the test ping."""

import json
import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from webhooks import wire
from webhooks.models import Delivery, Webhook
from webhooks.portal.access import page, portal_page
from webhooks.portal.filters import DeliveryFilterForm, next_query, page_of
from webhooks.portal.forms import RecoverForm
from webhooks.portal.views.webhooks import detail_page, project_webhook, with_notice
from webhooks.services.history import deliveries_of
from webhooks.services.ping_throttle import PingRefused
from webhooks.services.redelivery import (
    RecoverWindowInvalid,
    RedeliveryRefused,
    recover_failed,
    retry_delivery,
)
from webhooks.services.testing import send_test

PAGE_SIZE = 25  # deliveries per page
IN_FLIGHT = (Delivery.Status.PENDING, Delivery.Status.DELIVERING)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
@portal_page()
def delivery_list(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """List the webhook's deliveries, newest first: by id, status, type and day, a page at once."""
    webhook = project_webhook(request, webhook_id)
    filters = DeliveryFilterForm(request.GET)
    rows, more = [], False
    if filters.is_valid():
        found = filters.apply(deliveries_of(webhook).defer("event__body"))  # rows show no body
        rows, more = page_of(found, filters.cleaned_data["before"], PAGE_SIZE)
    context = {
        "webhook": webhook,
        "filters": filters,
        "deliveries": rows,
        "next_query": next_query(request, rows, more),
    }
    template = "portal/_delivery_rows.html" if _is_htmx(request) else "portal/delivery_list.html"
    return page(request, template, context, status=400 if filters.errors else 200)


def _delivery(request: HttpRequest, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    webhook = project_webhook(request, webhook_id)
    return get_object_or_404(
        Delivery.objects.select_related("event", "webhook").prefetch_related("attempts"),
        id=delivery_id,
        webhook=webhook,
    )


def _delivery_page(request: HttpRequest, delivery: Delivery, refused: str = "") -> HttpResponse:
    attempts = [
        {
            "attempt": attempt,
            "request_headers": wire.redacted(attempt.request_headers or {}),
            "response_headers": wire.redacted(attempt.response_headers or {}),
        }
        for attempt in delivery.attempts.all()
    ]
    try:
        payload = json.dumps(json.loads(delivery.event.body), indent=2, ensure_ascii=False)
    except ValueError:
        payload = delivery.event.body
    context = {
        "webhook": delivery.webhook,
        "delivery": delivery,
        "attempts": attempts,
        "payload": payload,
        "in_flight": delivery.status in IN_FLIGHT,
        "refused": refused,
    }
    if _is_htmx(request):  # htmx swaps only 2xx answers: a refusal shows in the fragment
        return page(request, "portal/_delivery_state.html", context)
    return page(request, "portal/delivery_detail.html", context, status=409 if refused else 200)


@require_GET
@portal_page()
def delivery_detail(
    request: HttpRequest, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> HttpResponse:
    """Show a delivery, its payload and every attempt: the request sent and the answer."""
    return _delivery_page(request, _delivery(request, webhook_id, delivery_id))


@require_POST
@portal_page(write=True)
def delivery_retry(
    request: HttpRequest, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> HttpResponse:
    """Attempt the delivery again now; say why not if it is in flight or the webhook is off."""
    delivery = _delivery(request, webhook_id, delivery_id)
    try:
        retry_delivery(delivery)
    except RedeliveryRefused as refused:
        return _delivery_page(request, delivery, refused.message)
    if _is_htmx(request):
        return _delivery_page(request, _delivery(request, webhook_id, delivery_id))
    return with_notice("delivery", "retried", webhook_id=webhook_id, delivery_id=delivery_id)


@require_POST
@portal_page(write=True)
def webhook_test(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Send a signed webhook.test now and show what the endpoint answered, or why not now."""
    webhook = project_webhook(request, webhook_id)
    try:
        ping = send_test(webhook)
    except PingRefused as refused:
        return _ping_refused(request, webhook, refused)
    if _is_htmx(request):
        return page(request, "portal/_ping.html", {"webhook": webhook, "ping": ping})
    return detail_page(request, webhook, ping=ping)


def _ping_refused(request: HttpRequest, webhook: Webhook, refused: PingRefused) -> HttpResponse:
    # htmx swaps only 2xx answers into the page: it gets the message with a 200.
    if _is_htmx(request):
        context = {"webhook": webhook, "ping_refused": refused.message}
        response = page(request, "portal/_ping.html", context)
    else:
        response = detail_page(request, webhook, ping_refused=refused.message, status=429)
    response["Retry-After"] = str(refused.retry_after_seconds)
    return response


@require_POST
@portal_page(write=True)
def webhook_recover(request: HttpRequest, webhook_id: uuid.UUID) -> HttpResponse:
    """Re-send the webhook's failed deliveries created since the time given."""
    webhook = project_webhook(request, webhook_id)
    form, recovered = RecoverForm(request.POST), None
    if form.is_valid():
        try:
            recovered = recover_failed(webhook, form.cleaned_data["since"])
        except RecoverWindowInvalid as invalid:
            form.add_error("since", invalid.message)
        except RedeliveryRefused as refused:
            form.add_error(None, refused.message)
    status = 400 if form.errors else 200
    return detail_page(request, webhook, recover=form, recovered=recovered, status=status)
