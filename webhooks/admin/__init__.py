"""Django admin for staff: inspect webhooks, events and deliveries; act through the services."""

from django.contrib import admin

from webhooks.admin import api_keys, deliveries, events, webhooks

admin.site.site_header = admin.site.site_title = "Agenta webhooks"
admin.site.index_title = "Webhooks, deliveries and events"

__all__ = ["api_keys", "deliveries", "events", "webhooks"]
