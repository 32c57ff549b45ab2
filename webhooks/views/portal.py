"""Portal links: Agenta asks for one and sends its user there (in a frame or a new tab)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.conf import app_settings
from webhooks.portal.sessions import create_link
from webhooks.serializers.portal import PortalLinkRequestSerializer, PortalLinkSerializer


class PortalSessionCreateView(APIView):
    """POST: a signed, single-use link that opens the project portal for one project."""

    write_scope = "webhooks:write"

    @extend_schema(
        operation_id="portal_sessions_create",
        summary="Make a project portal link",
        tags=["portal"],
        request=PortalLinkRequestSerializer,
        responses={201: PortalLinkSerializer},
    )
    def post(self, request, project_id):
        body = PortalLinkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session, token = create_link(
            project_id,
            role=body.validated_data["role"],
            actor=body.validated_data.get("actor", ""),
        )
        url = request.build_absolute_uri(f"{reverse('portal:open')}?token={token}")
        answer = {
            "url": url,
            "role": session.role,
            "link_expires_at": session.link_expires_at,
            "session_hours": app_settings.PORTAL_SESSION_HOURS,
        }
        return Response(PortalLinkSerializer(answer).data, status=status.HTTP_201_CREATED)
