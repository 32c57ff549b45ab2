"""Root URLs: the API under /api/, the Django admin, the project portal, health probes, metrics
and the OpenAPI schema."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from webhooks.views.health import healthz, readyz
from webhooks.views.landing import api_not_found, landing
from webhooks.views.metrics import MetricsView

urlpatterns = [
    path("", landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("webhooks.urls")),
    # Last under /api/: a path no route matched (a non-UUID id, say) answers JSON even in DEBUG,
    # where Django would answer its HTML page listing every URL pattern.
    re_path(r"^api/(?P<unknown>.*)$", api_not_found, name="api-not-found"),
    path("portal/", include("webhooks.portal.urls")),
]


def json_404(request, exception=None):
    """Answer API clients' unknown paths (and non-UUID ids) with JSON."""
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


handler404 = json_404
handler500 = json_500
