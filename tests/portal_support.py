"""A Django test client holding an open portal session, whose form posts carry its token."""

import uuid

from django.http import HttpRequest
from django.test import Client

from webhooks.portal.access import COOKIE_NAME, CSRF_FIELD
from webhooks.portal.sessions import create_link
from webhooks.portal.tokens import COOKIE_SALT, csrf_token


class PortalClient(Client):
    """A browser that opened a portal link for one project and role."""

    def open_link(self, project_id: uuid.UUID, role: str = "read_write") -> "PortalClient":
        _, token = create_link(project_id, role=role)
        response = self.get("/portal/open", {"token": token})
        assert response.status_code == 302, response.content
        return self

    @property
    def session_id(self) -> str:
        request = HttpRequest()
        request.COOKIES[COOKIE_NAME] = self.cookies[COOKIE_NAME].value
        return request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT)

    def form(self, path: str, data: dict | None = None, **extra):
        """POST a portal form with the session's form token, as the page would."""
        return self.post(path, {CSRF_FIELD: csrf_token(self.session_id), **(data or {})}, **extra)


def portal(project_id: uuid.UUID, role: str = "read_write") -> PortalClient:
    """Return a client with an open portal session for project_id."""
    return PortalClient().open_link(project_id, role)
