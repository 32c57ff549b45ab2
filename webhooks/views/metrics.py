"""GET /metrics: Prometheus text format, for a scraper holding the service key."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from webhooks.observability import exporter

# Prometheus sends "Authorization: Bearer <credentials>" unless its scrape config names another
# type; the API's own "Access" scheme works too.
SCHEMES = ("bearer", "access")


def _authorized(request: HttpRequest) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = settings.WEBHOOKS_AUTH_KEY
    return (
        bool(expected)
        and scheme.lower() in SCHEMES
        and hmac.compare_digest(presented.strip().encode(), expected.encode())
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Answer the metrics of every process on this machine; 401 without the service key."""
    if not _authorized(request):
        response = HttpResponse("Send the service key: Authorization: Bearer <key>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(exporter.render(), content_type=exporter.CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
