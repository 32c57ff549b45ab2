"""Webhook operations (test ping, recover, stats) and the operators' /api/admin/ endpoints."""

import logging

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.auth import ServiceOnly
from webhooks.conf import app_settings
from webhooks.schema import ErrorSerializer
from webhooks.serializers.deliveries import (
    PingOutcomeSerializer,
    RecoverSerializer,
    WebhookStatsSerializer,
)
from webhooks.services.history import webhook_stats
from webhooks.services.maintenance import parse_duration, retry_stuck
from webhooks.services.ping_throttle import PingRefused
from webhooks.services.redelivery import RecoverWindowInvalid, RedeliveryRefused, recover_failed
from webhooks.services.retention import MAX_RETENTION_DAYS, cleanup
from webhooks.services.testing import send_test
from webhooks.views.deliveries import Conflict, WebhookScoped

logger = logging.getLogger(__name__)


class PingThrottled(exceptions.APIException):
    """A test ping refused by its throttle: 429, the reason, and Retry-After in seconds."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"

    def __init__(self, refused: PingRefused) -> None:
        super().__init__(refused.message)
        self.wait = refused.retry_after_seconds  # DRF's handler sends it as Retry-After


class WebhookTestView(WebhookScoped, APIView):
    """POST: send a signed webhook.test event now and answer with what the endpoint did."""

    @extend_schema(
        tags=["webhooks"],
        summary="Send a test event",
        request=None,
        responses={200: PingOutcomeSerializer, 429: ErrorSerializer},
    )
    def post(self, request, project_id, webhook_id):
        webhook = self.get_webhook()
        try:
            outcome = send_test(webhook)
        except PingRefused as refused:
            raise PingThrottled(refused) from refused
        return Response(PingOutcomeSerializer(outcome.as_dict()).data)


class WebhookRecoverView(WebhookScoped, APIView):
    """POST {"since": ..., "until": ...}: re-queue the failed deliveries of real events."""

    staff_permissions = {"write": "webhooks.change_delivery"}

    @extend_schema(
        tags=["webhooks"],
        summary="Recover failed deliveries",
        description="Re-queue the webhook's failed deliveries of real events (not test pings) "
        "created in [since, until); since defaults to 1 day ago (RECOVER_DEFAULT_DAYS).",
        request=RecoverSerializer,
        responses={
            202: inline_serializer("RecoverResult", {"count": serializers.IntegerField()}),
            400: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request, project_id, webhook_id):
        webhook = self.get_webhook()
        body = RecoverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            count = recover_failed(webhook, **body.validated_data)
        except RecoverWindowInvalid as invalid:
            raise serializers.ValidationError({invalid.field: [invalid.message]}) from invalid
        except RedeliveryRefused as refused:
            raise Conflict(refused.message, code=refused.code) from refused
        return Response({"count": count}, status=status.HTTP_202_ACCEPTED)


class WebhookStatsView(WebhookScoped, APIView):
    """GET: delivery counts by status over 24 h and 7 days, last success, failing_since."""

    @extend_schema(
        tags=["webhooks"],
        summary="Show a webhook's delivery stats",
        responses={200: WebhookStatsSerializer},
    )
    def get(self, request, project_id, webhook_id):
        return Response(WebhookStatsSerializer(webhook_stats(self.get_webhook())).data)


class CleanupParamsSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_RETENTION_DAYS, required=False)
    batch_size = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    dry_run = serializers.BooleanField(required=False, default=False)
    max_seconds = serializers.FloatField(min_value=0.001, max_value=86_400, required=False)


class RetryStuckParamsSerializer(serializers.Serializer):
    stuck_after = serializers.CharField(required=False, help_text="e.g. 90s, 15m, 1h, 2d")

    def validate_stuck_after(self, value: str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


CleanupResult = inline_serializer(
    "CleanupResult",
    {
        "days": serializers.IntegerField(),
        "cutoff": serializers.DateTimeField(),
        "deliveries": serializers.IntegerField(),
        "attempts": serializers.IntegerField(),
        "events": serializers.IntegerField(),
        "batches": serializers.IntegerField(),
        "kept_deliveries": serializers.IntegerField(),
        "kept_events": serializers.IntegerField(),
        "seconds": serializers.FloatField(),
        "complete": serializers.BooleanField(),
        "dry_run": serializers.BooleanField(),
    },
)
RetryStuckResult = inline_serializer(
    "RetryStuckResult",
    {
        "stuck_after_seconds": serializers.IntegerField(),
        "expired_leases": serializers.IntegerField(),
        "stuck": serializers.IntegerField(),
        "woken": serializers.IntegerField(),
    },
)


class AdminCleanupView(APIView):
    """POST ?days=30: delete finished history older than that (what the daily cron job calls)."""

    permission_classes = [ServiceOnly]

    @extend_schema(
        tags=["operations"],
        summary="Delete old history",
        request=None,
        parameters=[
            OpenApiParameter("days", int),
            OpenApiParameter("batch_size", int),
            OpenApiParameter("dry_run", bool),
            OpenApiParameter("max_seconds", float, description="stop after this time budget"),
        ],
        responses={200: CleanupResult},
    )
    def post(self, request):
        params = CleanupParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = cleanup(
            days=params.validated_data.get("days", app_settings.RETENTION_DAYS),
            batch_size=params.validated_data.get("batch_size"),
            dry_run=params.validated_data["dry_run"],
            max_seconds=params.validated_data.get("max_seconds"),
        )
        logger.info("%s", result.summary())
        return Response(result.as_dict())


class AdminRetryStuckView(APIView):
    """POST: return stuck deliveries to pending and re-kick overdue ones (the 5-minute cron)."""

    permission_classes = [ServiceOnly]

    @extend_schema(
        tags=["operations"],
        summary="Return stuck deliveries and wake due ones",
        request=None,
        parameters=[OpenApiParameter("stuck_after", str, description="e.g. 90s, 15m, 1h, 2d")],
        responses={200: RetryStuckResult},
    )
    def post(self, request):
        params = RetryStuckParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = retry_stuck(stuck_after=params.validated_data.get("stuck_after"))
        logger.info("%s", result.summary())
        return Response(result.as_dict())
