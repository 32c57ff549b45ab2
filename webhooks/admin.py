"""Django admin registrations (staff inspect and act on webhooks and deliveries)."""

from django.contrib import admin

from webhooks.models import ApiKey, Delivery, Event, Webhook

admin.site.register([Webhook, Event, Delivery, ApiKey])
