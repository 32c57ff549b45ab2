"""Delivery and event admin: read-only history with attempts inline, and manual retry."""

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from webhooks import wire
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.serializers.deliveries import redact_headers
from webhooks.services import redelivery


def _pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


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
        return _pretty(redact_headers(attempt.request_headers))

    @admin.display(description="response headers")
    def response(self, attempt):
        return _pretty(redact_headers(attempt.response_headers))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "webhook",
        "event_type",
        "status",
        "trigger",
        "attempt_count",
        "last_status_code",
        "created_at",
    ]
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
    readonly_fields = [
        "id",
        "webhook",
        "event",
        "status",
        "trigger",
        "attempt_count",
        "next_attempt_at",
        "locked_until",
        "last_status_code",
        "error",
        "created_at",
        "updated_at",
        "delivered_at",
        "payload",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected"]

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description="last error")
    def error(self, delivery):
        return wire.redacted_error(delivery.last_error)

    @admin.display(description="event body")
    def payload(self, delivery):
        try:
            return _pretty(json.loads(delivery.event.body))
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


class EventDeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["webhook", "status", "trigger", "attempt_count", "last_status_code", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "project_id", "application_slug", "environment", "deliveries"]
    list_filter = ["type", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["=id", "=project_id", "=idempotency_key"]
    readonly_fields = [
        "id",
        "project_id",
        "type",
        "idempotency_key",
        "application_id",
        "application_slug",
        "environment",
        "created_at",
        "payload",
    ]
    inlines = [EventDeliveryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(delivery_count=Count("deliveries"))

    @admin.display(description="deliveries", ordering="delivery_count")
    def deliveries(self, event):
        return event.delivery_count

    @admin.display(description="body")
    def payload(self, event):
        try:
            return _pretty(json.loads(event.body))
        except ValueError:
            return event.body
