"""Delivery history of a webhook: list, detail with attempts, and manual retry."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.models import Delivery, Webhook
from webhooks.pagination import IdCursorPagination
from webhooks.schema import ErrorSerializer
from webhooks.serializers.deliveries import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
)
from webhooks.services.history import deliveries_of
from webhooks.services.redelivery import RedeliveryRefused, retry_delivery


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the resource's current state."
    default_code = "conflict"


class WebhookScoped:
    """A view under /projects/{project_id}/webhooks/{webhook_id}/ (deleted webhooks are 404)."""

    read_scope = "webhooks:read"
    write_scope = "webhooks:write"
    staff_permissions = {"read": "webhooks.view_webhook", "write": "webhooks.change_webhook"}

    def get_webhook(self) -> Webhook:
        return get_object_or_404(
            Webhook,
            id=self.kwargs["webhook_id"],
            project_id=self.kwargs["project_id"],
            deleted_at__isnull=True,
        )

    def get_delivery(self, webhook: Webhook) -> Delivery:
        return get_object_or_404(
            Delivery.objects.select_related("event", "webhook").prefetch_related("attempts"),
            id=self.kwargs["delivery_id"],
            webhook=webhook,
        )


@extend_schema(
    tags=["deliveries"],
    summary="List a webhook's deliveries",
    parameters=[
        OpenApiParameter("status", str, description="One status or several, comma-separated."),
        OpenApiParameter("event_type", str),
        OpenApiParameter("created_after", str, description="ISO 8601 time, inclusive."),
        OpenApiParameter("created_before", str, description="ISO 8601 time, exclusive."),
    ],
)
class DeliveryListView(WebhookScoped, generics.ListAPIView):
    """GET: the webhook's deliveries, newest first, filtered, with cursor pagination."""

    serializer_class = DeliverySerializer
    pagination_class = IdCursorPagination
    staff_permissions = {"read": "webhooks.view_delivery"}

    def get_queryset(self):
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        return deliveries_of(self.get_webhook(), statuses=params.pop("status", None), **params)


@extend_schema(tags=["deliveries"], summary="Show a delivery with its attempts")
class DeliveryDetailView(WebhookScoped, generics.RetrieveAPIView):
    """GET: one delivery with its event body and every attempt (request and response)."""

    serializer_class = DeliveryDetailSerializer
    staff_permissions = {"read": "webhooks.view_delivery"}

    def get_object(self) -> Delivery:
        return self.get_delivery(self.get_webhook())


class DeliveryRetryView(WebhookScoped, APIView):
    """POST: attempt the delivery again now (a redelivery when it had succeeded)."""

    staff_permissions = {"write": "webhooks.change_delivery"}

    @extend_schema(
        tags=["deliveries"],
        summary="Retry a delivery now",
        description="Queue a manual attempt, due now (a redelivery when it had succeeded). "
        "A manual attempt doesn't move the automatic retry schedule.",
        request=None,
        responses={202: DeliverySerializer, 409: ErrorSerializer},
    )
    def post(self, request, project_id, webhook_id, delivery_id):
        delivery = self.get_delivery(self.get_webhook())
        try:
            delivery = retry_delivery(delivery)
        except RedeliveryRefused as refused:
            raise Conflict(refused.message, code=refused.code) from refused
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
