"""The app's API routes, mounted under /api/."""

from django.urls import path

from webhooks.views import deliveries, events, operations, portal, signing_keys
from webhooks.views.webhooks import WebhookViewSet

WEBHOOK = "projects/<uuid:project_id>/webhooks/<uuid:webhook_id>"

urlpatterns: list = [
    path(
        "projects/<uuid:project_id>/webhooks",
        WebhookViewSet.as_view({"get": "list", "post": "create"}),
        name="webhook-list",
    ),
    path(
        WEBHOOK,
        WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="webhook-detail",
    ),
    path(
        f"{WEBHOOK}/regenerate-secret",
        WebhookViewSet.as_view({"post": "regenerate_secret"}),
        name="webhook-regenerate-secret",
    ),
    path(f"{WEBHOOK}/secret", WebhookViewSet.as_view({"get": "secret"}), name="webhook-secret"),
    path("projects/<uuid:project_id>/events", events.EventListView.as_view(), name="event-list"),
    path(
        "projects/<uuid:project_id>/events/<uuid:event_id>",
        events.EventDetailView.as_view(),
        name="event-detail",
    ),
    path("event-types", events.EventTypeListView.as_view(), name="event-type-list"),
    path(
        "projects/<uuid:project_id>/portal-sessions",
        portal.PortalSessionCreateView.as_view(),
        name="portal-session-create",
    ),
]

urlpatterns += [
    path(
        f"{WEBHOOK}/deliveries",
        deliveries.DeliveryListView.as_view(),
        name="delivery-list",
    ),
    path(
        f"{WEBHOOK}/deliveries/<uuid:delivery_id>",
        deliveries.DeliveryDetailView.as_view(),
        name="delivery-detail",
    ),
    path(
        f"{WEBHOOK}/deliveries/<uuid:delivery_id>/retry",
        deliveries.DeliveryRetryView.as_view(),
        name="delivery-retry",
    ),
    path(
        f"{WEBHOOK}/signing-keys",
        signing_keys.SigningKeysView.as_view(),
        name="webhook-signing-keys",
    ),
    path(
        f"{WEBHOOK}/rotate-signing-key",
        signing_keys.RotateSigningKeyView.as_view(),
        name="webhook-rotate-signing-key",
    ),
    path(f"{WEBHOOK}/test", operations.WebhookTestView.as_view(), name="webhook-test"),
    path(f"{WEBHOOK}/recover", operations.WebhookRecoverView.as_view(), name="webhook-recover"),
    path(f"{WEBHOOK}/stats", operations.WebhookStatsView.as_view(), name="webhook-stats"),
    path(
        "admin/webhooks/cleanup",
        operations.AdminCleanupView.as_view(),
        name="admin-webhooks-cleanup",
    ),
    path(
        "admin/webhooks/retry-stuck",
        operations.AdminRetryStuckView.as_view(),
        name="admin-webhooks-retry-stuck",
    ),
]
