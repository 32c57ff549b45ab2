"""The webhook management API: CRUD, the secret, and secret rotation, per project."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from webhooks.events import WILDCARD
from webhooks.fields import is_undecryptable
from webhooks.models import Webhook
from webhooks.pagination import IdCursorPagination
from webhooks.schema import ErrorSerializer
from webhooks.serializers.webhooks import (
    RegeneratedSecretSerializer,
    RegenerateSecretSerializer,
    SecretSerializer,
    WebhookListQuerySerializer,
    WebhookSerializer,
    WebhookWithSecretSerializer,
)
from webhooks.services import webhooks as service
from webhooks.services.audit import record_secret_read
from webhooks.views.deliveries import Conflict


@extend_schema_view(
    list=extend_schema(
        operation_id="webhooks_list",
        summary="List webhooks",
        parameters=[WebhookListQuerySerializer],
    ),
    create=extend_schema(
        operation_id="webhooks_create",
        summary="Create a webhook",
        request=WebhookSerializer,
        responses={201: WebhookWithSecretSerializer},
    ),
    retrieve=extend_schema(operation_id="webhooks_retrieve", summary="Show a webhook"),
    partial_update=extend_schema(operation_id="webhooks_update", summary="Change a webhook"),
    destroy=extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook",
        responses={204: OpenApiResponse(description="Deleted; its delivery history stays.")},
    ),
)
@extend_schema(tags=["webhooks"])
class WebhookViewSet(viewsets.GenericViewSet):
    """A project's webhooks: the endpoints its events are delivered to."""

    serializer_class = WebhookSerializer
    pagination_class = IdCursorPagination
    lookup_field = "id"
    lookup_url_kwarg = "webhook_id"
    read_scope = "webhooks:read"
    write_scope = "webhooks:write"
    action_scopes = {"secret": "webhooks:write"}
    staff_permissions = {
        "read": "webhooks.view_webhook",
        "write": "webhooks.change_webhook",
        "create": "webhooks.add_webhook",
        "destroy": "webhooks.delete_webhook",
        "secret": "webhooks.change_webhook",
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Webhook.objects.none()
        return service.live_webhooks(self.kwargs["project_id"])

    def list(self, request, project_id):
        """List the project's webhooks, newest first, without their secrets."""
        query = WebhookListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        webhooks = self.get_queryset()
        if "is_active" in query.validated_data:
            webhooks = webhooks.filter(is_active=query.validated_data["is_active"])
        event_type = query.validated_data.get("event_type")
        if event_type:
            # At most MAX_WEBHOOKS_PER_PROJECT rows, and JSON containment isn't portable to
            # SQLite (embedded mode): match in Python.
            matching = [
                webhook.id
                for webhook in webhooks.only("id", "event_types")
                if event_type in webhook.event_types or WILDCARD in webhook.event_types
            ]
            webhooks = webhooks.filter(id__in=matching)
        page = self.paginate_queryset(webhooks)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request, project_id):
        """Create a webhook; the answer shows its secret (also readable later at .../secret)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = service.create_webhook(project_id, **serializer.validated_data)
        data = WebhookWithSecretSerializer(webhook, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, project_id, webhook_id):
        """Show a webhook, without its secret."""
        return Response(self.get_serializer(self.get_object()).data)

    def partial_update(self, request, project_id, webhook_id):
        """Change some fields; setting is_active to true also clears the disabled state."""
        webhook = self.get_object()
        serializer = self.get_serializer(webhook, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        service.update_webhook(webhook, **serializer.validated_data)
        return Response(self.get_serializer(webhook).data)

    def destroy(self, request, project_id, webhook_id):
        """Delete a webhook: it stops receiving events; its delivery history stays."""
        service.delete_webhook(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="webhooks_regenerate_secret",
        summary="Regenerate the signing secret",
        request=RegenerateSecretSerializer,
        responses={200: RegeneratedSecretSerializer},
    )
    def regenerate_secret(self, request, project_id, webhook_id):
        """Give the webhook a new secret, shown once here; the old one signs on for the grace.

        During the grace period deliveries carry two signatures (new and old secret), so the
        receiver can switch to the new secret without missing events.
        """
        webhook = self.get_object()
        body = RegenerateSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Undecryptable headers can't be kept: the service empties them, and the answer says so.
        cleared = [name for name in webhook.undecryptable_fields() if name == "headers"]
        webhook = service.regenerate_secret(
            webhook, body.validated_data.get("grace_period_seconds")
        )
        data = {
            "secret": webhook.secret,
            "previous_secret_expires_at": webhook.previous_secret_expires_at,
            "cleared": cleared,
        }
        return Response(RegeneratedSecretSerializer(data).data)

    @extend_schema(
        operation_id="webhooks_secret",
        summary="Show the signing secret",
        responses={200: SecretSerializer, 409: ErrorSerializer},
    )
    def secret(self, request, project_id, webhook_id):
        """Show the current signing secret (needs webhooks:write); each read is audited."""
        webhook = self.get_object()
        if is_undecryptable(webhook.secret):
            raise Conflict(
                "No key in WEBHOOKS_ENCRYPTION_KEYS decrypts this secret: regenerate it.",
                code="secret_undecryptable",
            )
        record_secret_read(
            webhook, actor=request.user.actor, address=request.META.get("REMOTE_ADDR"), via="api"
        )
        return Response(SecretSerializer(webhook).data)
