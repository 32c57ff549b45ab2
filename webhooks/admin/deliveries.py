"""Delivery admin: read-only history with attempts inline, manual retry and Redeliver."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path

from webhooks import wire
from webhooks.admin import display
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.serializers.deliveries import redact_headers
from webhooks.services import redelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable by staff with the view permission; changed only through actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryAttemptInline(admin.StackedInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = [
        ("number", "trigger", "started_at", "duration_ms"),
        "request_to",
        "request",
        ("response_status", "error_kind", "error"),
        "response",
        "response_body",
    ]
    readonly_fields = [
        "number",
        "trigger",
        "started_at",
        "duration_ms",
        "request_to",
        "request",
        "response_status",
        "error_kind",
        "error",
        "response",
        "response_body",
    ]

    @admin.display(description="request URL")
    def request_to(self, attempt):
        return wire.redacted_url(attempt.request_url)

    @admin.display(description="error message")
    def error(self, attempt):
        return wire.redacted_error(attempt.error_message)

    @admin.display(description="request headers")
    def request(self, attempt):
        return display.pretty(redact_headers(attempt.request_headers))

    @admin.display(description="response headers")
    def response(self, attempt):
        return display.pretty(redact_headers(attempt.response_headers))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "short_id",
        "webhook_name",
        "event_type",
        "state",
        "trigger",
        "attempts",
        "last_code",
        "created",
    ]
    list_display_links = ["short_id"]
    list_select_related = ["webhook", "event"]
    list_filter = [
        "status",
        "trigger",
        "event__type",
        ("webhook", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    date_hierarchy = "created_at"
    search_fields = ["=id", "=event__id", "=webhook__id"]
    fieldsets = [
        (None, {"fields": ["id", "webhook", "destination", "event", "state", "trigger"]}),
        (
            "Attempts",
            {
                "fields": [
                    ("attempt_count", "auto_attempt_count"),
                    "next_attempt_at",
                    "delivered_at",
                    "last_status_code",
                    "error",
                ]
            },
        ),
        ("Payload", {"fields": ["payload"]}),
        (
            "Bookkeeping",
            {
                "classes": ["collapse"],
                "fields": ["created_at", "updated_at", "locked_until", "lease_expiries"],
            },
        ),
    ]
    readonly_fields = [
        "id",
        "webhook",
        "destination",
        "event",
        "state",
        "trigger",
        "attempt_count",
        "auto_attempt_count",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "error",
        "payload",
        "created_at",
        "updated_at",
        "locked_until",
        "lease_expiries",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected"]

    def get_queryset(self, request):
        return display.with_url_visibility(super().get_queryset(request), request)

    @admin.display(description="id", ordering="id")
    def short_id(self, delivery):
        return display.short_id(delivery.id)

    @admin.display(description="attempts", ordering="attempt_count")
    def attempts(self, delivery):
        return delivery.attempt_count

    @admin.display(description="last code", ordering="last_status_code")
    def last_code(self, delivery):
        return delivery.last_status_code or "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, delivery):
        return display.moment(delivery.created_at)

    @admin.display(description="webhook", ordering="webhook__name")
    def webhook_name(self, delivery):
        return delivery.webhook.name

    @admin.display(description="URL")
    def destination(self, delivery):
        return display.webhook_url(delivery.webhook.url, delivery.url_visible)

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="status", ordering="status")
    def state(self, delivery):
        return display.badge(delivery.status)

    @admin.display(description="last error")
    def error(self, delivery):
        return wire.redacted_error(delivery.last_error)

    @admin.display(description="event body")
    def payload(self, delivery):
        try:
            return display.pretty(json.loads(delivery.event.body))
        except ValueError:
            return delivery.event.body

    def has_retry_permission(self, request):
        return request.user.has_perm("webhooks.change_delivery")

    @admin.action(description="Retry selected deliveries", permissions=["retry"])
    def retry_selected(self, request, queryset):
        queued, refused = redelivery.retry_deliveries(queryset.values_list("id", flat=True))
        text = f"Queued {queued} deliveries for a manual attempt."
        if refused:
            text += f" Skipped {refused} (in flight, or their webhook is disabled)."
        self.message_user(request, text, messages.WARNING if refused else messages.SUCCESS)

    def get_urls(self):
        redeliver = self.admin_site.admin_view(self.redeliver_view)
        return [
            path("<path:object_id>/redeliver/", redeliver, name="webhooks_delivery_redeliver"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        may = self.has_retry_permission(request)
        extra_context = {**(extra_context or {}), "can_redeliver": may}
        return super().change_view(request, object_id, form_url, extra_context)

    def redeliver_view(self, request, object_id):
        """POST: send this delivery again now (the Redeliver button), as the API retry does."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_retry_permission(request):
            raise PermissionDenied
        delivery = self.get_object(request, object_id)
        if delivery is None:
            raise Http404("No such delivery.")
        try:
            redelivery.retry_delivery(delivery)
        except redelivery.RedeliveryRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
        else:
            self.log_change(request, delivery, "Queued for a manual attempt (Redeliver).")
            self.message_user(request, "Queued 1 delivery for a manual attempt.")
        return redirect("admin:webhooks_delivery_change", delivery.pk)
