"""Signed portal values: the link's one-time token and the form token bound to a session."""

import hmac
import uuid

from django.core import signing
from django.utils.crypto import salted_hmac

LINK_SALT = "webhooks.portal.link"
COOKIE_SALT = "webhooks.portal.cookie"
CSRF_SALT = "webhooks.portal.csrf"


class BadToken(Exception):
    """The token was not made by this service (tampered, truncated, or another SECRET_KEY)."""


def link_token(session_id: uuid.UUID) -> str:
    """Return the URL-safe token that opens the portal session session_id once."""
    return signing.dumps(str(session_id), salt=LINK_SALT, compress=False)


def read_link_token(token: str) -> uuid.UUID:
    """Return the session id a link token carries, or raise BadToken."""
    try:
        return uuid.UUID(signing.loads(token, salt=LINK_SALT))
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadToken(str(exc)) from exc


def csrf_token(session_id: uuid.UUID) -> str:
    """Return the token every portal form of this session must post back."""
    return salted_hmac(CSRF_SALT, str(session_id), algorithm="sha256").hexdigest()


def csrf_matches(session_id: uuid.UUID, presented: str | None) -> bool:
    """Return whether presented is this session's form token (compared in constant time)."""
    return bool(presented) and hmac.compare_digest(csrf_token(session_id), presented)
