"""Make portal links; open, look up and end the sessions they start (every PortalSession write)."""

import logging
import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from webhooks.conf import app_settings
from webhooks.models import PortalSession
from webhooks.portal.tokens import BadToken, link_token, read_link_token

logger = logging.getLogger(__name__)


class LinkRefused(Exception):
    """The link can't open a session; reason is 'invalid', 'used' or 'expired'."""

    def __init__(self, reason: str, session_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.session_id = session_id  # the session a genuine link names


def create_link(
    project_id: uuid.UUID, *, role: str, actor: str = "", now: datetime | None = None
) -> tuple[PortalSession, str]:
    """Record a portal link for one project and role; return it with its signed token."""
    if role not in PortalSession.Role.values:
        raise ValueError(f"unknown portal role {role!r}")
    now = now or timezone.now()
    session = PortalSession.objects.create(
        project_id=project_id,
        role=role,
        actor=actor,
        link_expires_at=now + timedelta(seconds=app_settings.PORTAL_LINK_SECONDS),
    )
    logger.info("portal link %s made for project %s (%s)", session.id, project_id, role)
    return session, link_token(session.id)


def open_link(token: str, now: datetime | None = None) -> PortalSession:
    """Start the session a link token names, once; raise LinkRefused saying why not."""
    now = now or timezone.now()
    try:
        session_id = read_link_token(token)
    except BadToken:
        raise LinkRefused("invalid") from None
    expires_at = now + timedelta(hours=app_settings.PORTAL_SESSION_HOURS)
    # One conditional UPDATE: of two requests racing with the same link, only one opens it.
    opened = PortalSession.objects.filter(
        id=session_id, opened_at__isnull=True, link_expires_at__gt=now
    ).update(opened_at=now, expires_at=expires_at)
    session = PortalSession.objects.filter(id=session_id).first()
    if session is None:
        raise LinkRefused("invalid")
    if not opened:
        raise LinkRefused("used" if session.opened_at else "expired", session.id)
    logger.info("portal session %s opened for project %s", session.id, session.project_id)
    return session


def live_session(session_id: uuid.UUID, now: datetime | None = None) -> PortalSession | None:
    """Return the opened, unexpired, not ended session with this id, or None."""
    now = now or timezone.now()
    return PortalSession.objects.filter(
        id=session_id, opened_at__isnull=False, expires_at__gt=now, ended_at__isnull=True
    ).first()


def end_session(session: PortalSession) -> None:
    """Sign the session out: its cookie stops working at once."""
    PortalSession.objects.filter(id=session.id, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    logger.info("portal session %s ended", session.id)
