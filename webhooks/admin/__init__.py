"""Django admin for staff: inspect webhooks, events and deliveries; act through the services."""

from django.contrib import admin

from webhooks.admin import api_keys, deliveries, events, webhooks

admin.site.site_header = admin.site.site_title = "Agenta webhooks"
admin.site.index_title = "Webhooks, deliveries and events"
# The list pages need the width (1366 px screens); the index page and breadcrumbs navigate.
admin.site.enable_nav_sidebar = False

__all__ = ["api_keys", "deliveries", "events", "webhooks"]
