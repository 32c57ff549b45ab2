"""Event admin: read-only, with the deliveries each event fanned out to."""

import json

from django.contrib import admin
from django.db.models import Count

from webhooks.admin import display
from webhooks.admin.deliveries import ReadOnlyAdmin
from webhooks.models import Delivery, Event


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
    list_display = [
        "short_id",
        "type",
        "project",
        "application_slug",
        "environment",
        "deliveries",
        "created",
    ]
    list_display_links = ["short_id"]
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

    @admin.display(description="id", ordering="id")
    def short_id(self, event):
        return display.short_id(event.id)

    @admin.display(description="created", ordering="created_at")
    def created(self, event):
        return display.moment(event.created_at)

    @admin.display(description="project", ordering="project_id")
    def project(self, event):
        return display.short_id(event.project_id)

    @admin.display(description="deliveries", ordering="delivery_count")
    def deliveries(self, event):
        return event.delivery_count

    @admin.display(description="body")
    def payload(self, event):
        try:
            return display.pretty(json.loads(event.body))
        except ValueError:
            return event.body
