"""GET /metrics: Prometheus text format, for a scraper holding the service key."""

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from webhooks.auth import ServiceKeyAuthentication, ServiceOnly
from webhooks.observability import exporter


class BearerServiceKeyAuthentication(ServiceKeyAuthentication):
    """Authorization: Bearer <WEBHOOKS_AUTH_KEY>: how Prometheus sends credentials by default."""

    keyword = "Bearer"


class MetricsView(APIView):
    """GET: the metrics of every process on this machine, and the gauges read at scrape time."""

    authentication_classes = [ServiceKeyAuthentication, BearerServiceKeyAuthentication]
    permission_classes = [ServiceOnly]

    @extend_schema(exclude=True)  # not JSON: the Prometheus exposition format
    def get(self, request):
        response = HttpResponse(exporter.render(), content_type=exporter.CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
        return response
