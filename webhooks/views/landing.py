"""The root page: what this service is and where its API docs, portal and admin are."""

from django.conf import settings
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse

from webhooks import __version__


def _links() -> dict[str, str]:
    return {
        "api_docs": reverse("api-docs"),
        "api_schema": reverse("schema"),
        "portal": reverse("portal:home"),
        "admin": reverse("admin:index"),
        "health": reverse("healthz"),
    }


def landing(request):
    """Answer / with a small page for browsers, or the same links as JSON for API clients."""
    body = {"service": "Agenta webhooks", "version": __version__, "links": _links()}
    if "text/html" in request.headers.get("Accept", ""):
        return render(request, "webhooks/landing.html", body)
    return JsonResponse(body)


def api_not_found(request, unknown: str = ""):
    """Answer an unknown /api/ path (a malformed id included) with a JSON 404, DEBUG or not."""
    if settings.APPEND_SLASH and not request.path.endswith("/") and request.method == "GET":
        try:  # /api/docs -> /api/docs/, as CommonMiddleware did before this route caught it
            if resolve(f"{request.path_info}/").func is not api_not_found:
                return HttpResponsePermanentRedirect(f"{request.path}/")
        except Resolver404:
            pass
    return JsonResponse({"detail": "Not found."}, status=404)
