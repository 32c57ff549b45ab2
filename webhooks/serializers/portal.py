"""Portal links: what Agenta asks for and what it gets back."""

from rest_framework import serializers

from webhooks.models import PortalSession
from webhooks.serializers import RejectUnknownFieldsMixin, StrictCharField


class PortalLinkRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """POST .../portal-sessions: the role the session gets, and whom it is for."""

    role = serializers.ChoiceField(
        choices=PortalSession.Role.choices,
        default=PortalSession.Role.READ_ONLY,
        help_text="read_only: look at webhooks and deliveries. read_write: change them too, "
        "reveal secrets, retry and test.",
    )
    actor = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Who the link is for (an Agenta user id or email): shown in the portal and "
        "recorded when a secret is revealed.",
    )


class PortalLinkSerializer(serializers.Serializer):
    """A new portal link: open url once, before expires_at."""

    url = serializers.URLField(read_only=True, help_text="Opens the portal once.")
    role = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(
        read_only=True, source="link_expires_at", help_text="The link opens nothing after this."
    )
    session_hours = serializers.FloatField(
        read_only=True, help_text="How long the session it opens lasts."
    )
