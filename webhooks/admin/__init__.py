"""Django admin for staff: inspect webhooks, events and deliveries; act through the services."""

from webhooks.admin import api_keys, deliveries, webhooks

__all__ = ["api_keys", "deliveries", "webhooks"]
