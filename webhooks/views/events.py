"""Events API: emit an event, list and inspect a project's events, read the type catalogue."""

from collections import defaultdict

from django.db.models import Count, Prefetch, Q
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks import events
from webhooks.auth import Principal
from webhooks.conf import app_settings
from webhooks.exceptions import PayloadTooLarge
from webhooks.models import Delivery, Event
from webhooks.pagination import IdCursorPagination
from webhooks.parsers import JSONParser
from webhooks.schema import ErrorSerializer
from webhooks.serializers.events import (
    EmitEvent,
    EmittedEvent,
    EventDetailSerializer,
    EventFilters,
    EventSerializer,
    EventTypeInfo,
    IdempotencyConflict,
)
from webhooks.services.emit import emit_webhook_event


class AnyPrincipal(permissions.BasePermission):
    """Any authenticated caller, whatever its scopes: the catalogue holds no project data."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal)


class BodyIsJSON(DefaultContentNegotiation):
    """Parse every body as JSON whatever its Content-Type says: non-JSON answers 400, not 415."""

    def select_parser(self, request, parsers):
        return parsers[0]


class ProjectEvents:
    """Reading events needs webhooks:read; emitting needs events:emit."""

    read_scope = "webhooks:read"
    write_scope = "events:emit"
    staff_permissions = {"read": "webhooks.view_event"}  # emitting: service key or superuser

    def project_events(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Event.objects.none()
        return Event.objects.filter(project_id=self.kwargs["project_id"])


def _check_body_size(request) -> None:
    # Before parsing: a body over the limit is refused without being read.
    limit = app_settings.MAX_PAYLOAD_BYTES
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size > limit:
        raise PayloadTooLarge(f"The request body is {size} bytes; the limit is {limit}.")


def _idempotency_key(request) -> str | None:
    """Return the Idempotency-Key header as sent: UTF-8, which WSGI hands over as latin-1."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError as exc:
        raise ValidationError({"idempotency_key": ["Must be UTF-8 text."]}) from exc


@extend_schema_view(
    get=extend_schema(
        operation_id="events_list",
        summary="List events",
        parameters=[
            OpenApiParameter("type", str),
            OpenApiParameter("environment", str, description="Environment slug."),
            OpenApiParameter("application", str, description="Application id or slug."),
            OpenApiParameter("idempotency_key", str),
        ],
    )
)
@extend_schema(tags=["events"])
class EventListView(ProjectEvents, generics.ListAPIView):
    """GET: the project's events, newest first, with delivery counts. POST: emit an event."""

    serializer_class = EventSerializer
    pagination_class = IdCursorPagination
    parser_classes = [JSONParser]
    content_negotiation_class = BodyIsJSON

    def get_queryset(self):
        found = self.project_events().defer("body")
        filters = EventFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        for name in ("type", "environment", "idempotency_key"):
            if params.get(name):
                found = found.filter(**{name: params[name]})
        if params.get("application"):
            application = params["application"]
            found = found.filter(Q(application_id=application) | Q(application_slug=application))
        return found

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = (
            Delivery.objects.filter(event_id__in=[event.id for event in page])
            .order_by()
            .values_list("event_id", "status")
            .annotate(n=Count("id"))
        )
        counts: dict = defaultdict(dict)
        for event_id, status_, n in rows:
            counts[event_id][status_] = n
        context = self.get_serializer_context() | {"delivery_counts": counts}
        return self.get_paginated_response(EventSerializer(page, many=True, context=context).data)

    @extend_schema(
        operation_id="events_emit",
        summary="Emit an event",
        request=EmitEvent,
        responses={
            202: OpenApiResponse(EmittedEvent, "A new event, fanned out to `deliveries` webhooks."),
            200: OpenApiResponse(EmittedEvent, "The key was seen before: the same event, no new."),
            409: OpenApiResponse(
                IdempotencyConflict, "The key was seen before with another type or other data."
            ),
            413: OpenApiResponse(
                ErrorSerializer, "The body is over WEBHOOKS['MAX_PAYLOAD_BYTES'] (256 KiB)."
            ),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="At most 255 characters of UTF-8; a repeat with the same type and "
                "data answers 200 with the same event, with other content 409.",
            )
        ],
        description="Emit an event: 202 when new, 200 when the Idempotency-Key was seen before "
        "with the same type and data, 409 when with other content.",
    )
    def post(self, request, project_id):
        _check_body_size(request)
        body = EmitEvent(data=request.data)
        body.is_valid(raise_exception=True)
        event = emit_webhook_event(
            project_id,
            body.validated_data["type"],
            body.validated_data["data"],
            _idempotency_key(request),
            occurred_at=body.validated_data.get("occurred_at"),
        )
        answer = EmittedEvent(
            {"id": event.id, "type": event.type, "deliveries": event.delivery_count}
        ).data
        if event.created:
            return Response(answer, status=status.HTTP_202_ACCEPTED)
        return Response(answer, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})


@extend_schema_view(
    get=extend_schema(operation_id="events_retrieve", summary="Show an event and its deliveries")
)
@extend_schema(tags=["events"])
class EventDetailView(ProjectEvents, generics.RetrieveAPIView):
    """GET: one event, its payload, and each delivery with its webhook and status."""

    serializer_class = EventDetailSerializer
    lookup_field = "id"
    lookup_url_kwarg = "event_id"

    def get_queryset(self):
        deliveries = (
            Delivery.objects.select_related("webhook")
            .defer("webhook__secret", "webhook__previous_secret")
            .order_by("id")
        )
        return self.project_events().prefetch_related(Prefetch("deliveries", queryset=deliveries))


@extend_schema(tags=["events"])
class EventTypeListView(APIView):
    """GET: every event type with its description, data schema and an example payload."""

    permission_classes = [AnyPrincipal]

    @extend_schema(
        operation_id="event_types_list",
        summary="List event types",
        responses=EventTypeInfo(many=True),
        description="Every event type with its data schema and an example payload.\n\n"
        "Access: any valid credential (service key, staff session, or any API key).",
    )
    def get(self, request):
        return Response(
            [
                {
                    "type": event_type.name,
                    "description": event_type.description,
                    "emittable": event_type.emittable,
                    "operator_only": event_type.operator_only,
                    "schema": event_type.schema,
                    "example": events.example_envelope(event_type.name),
                }
                for event_type in events.EVENT_TYPES.values()
            ]
        )
