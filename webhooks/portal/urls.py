"""The portal's pages, mounted under /portal/."""

from django.urls import path

from webhooks.portal.views import deliveries, events, secrets, session, webhooks

app_name = "portal"
WEBHOOK = "webhooks/<uuid:webhook_id>"
DELIVERY = f"{WEBHOOK}/deliveries/<uuid:delivery_id>"

urlpatterns = [
    path("", webhooks.webhook_list, name="home"),
    path("open", session.open_portal, name="open"),
    path("sign-out", session.sign_out, name="sign-out"),
    path("event-types", session.event_types, name="event-types"),
    path("events", events.event_list, name="events"),
    path("webhooks/new", webhooks.webhook_create, name="webhook-create"),
    path(WEBHOOK, webhooks.webhook_detail, name="webhook"),
    path(f"{WEBHOOK}/edit", webhooks.webhook_edit, name="webhook-edit"),
    path(f"{WEBHOOK}/active", webhooks.webhook_toggle, name="webhook-toggle"),
    path(f"{WEBHOOK}/delete", webhooks.webhook_delete, name="webhook-delete"),
    path(f"{WEBHOOK}/secret", secrets.secret_reveal, name="secret"),
    path(f"{WEBHOOK}/regenerate-secret", secrets.secret_regenerate, name="secret-regenerate"),
    path(f"{WEBHOOK}/test", deliveries.webhook_test, name="webhook-test"),
    path(f"{WEBHOOK}/recover", deliveries.webhook_recover, name="webhook-recover"),
    path(f"{WEBHOOK}/deliveries", deliveries.delivery_list, name="deliveries"),
    path(DELIVERY, deliveries.delivery_detail, name="delivery"),
    path(f"{DELIVERY}/retry", deliveries.delivery_retry, name="delivery-retry"),
]
