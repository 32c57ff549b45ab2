"""Who is calling (service key, project API key, staff session) and what they may do.

Project keys are limited by scopes; staff sessions by the Django model permissions their user
holds (views name them in `staff_permissions`); what names none is for the service key and
superusers only.
"""

import hmac
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from rest_framework import authentication, exceptions, permissions

from webhooks.services.api_keys import authenticate_api_key


@dataclass(frozen=True)
class Principal:
    """The caller of an API request; project keys are bound to one project and some scopes."""

    kind: str  # "service" | "api_key" | "staff"
    project_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    user: Any = field(default=None, compare=False, repr=False)  # the staff session's Django user

    is_authenticated = True
    is_anonymous = False

    @property
    def is_project_key(self) -> bool:
        return self.kind == "api_key"

    def can_access_project(self, project_id) -> bool:
        return not self.is_project_key or str(self.project_id) == str(project_id)

    def has_scope(self, scope: str) -> bool:
        return not self.is_project_key or scope in self.scopes

    @property
    def is_superuser(self) -> bool:
        return self.kind == "service" or bool(self.user and self.user.is_superuser)

    def has_perm(self, perm: str) -> bool:
        """Return whether a staff caller's user holds perm (other callers: True)."""
        return self.kind != "staff" or self.user.has_perm(perm)

    @property
    def may_read_credentials(self) -> bool:
        """Return whether the caller may see a webhook's whole URL and its secret."""
        return self.has_scope("webhooks:write") and self.has_perm("webhooks.change_webhook")

    @property
    def actor(self) -> str:
        """Return who this is, as audit records name it."""
        return self.kind if self.kind == "service" else f"{self.kind}:{self.name}"


def _credentials(request, keyword: str) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != keyword.lower():
        return None
    value = value.strip()
    if not value:
        raise exceptions.AuthenticationFailed(f"Empty {keyword} credentials.")
    return value


_HOW = {"ApiKey": "ApiKey <prefix>.<secret>' (a project API key)", "Access": "Access <key>'"}


def _refuse_unknown_scheme(request) -> None:
    """Raise a 401 naming the view's schemes for an Authorization header of another (Bearer)."""
    header = authentication.get_authorization_header(request).decode("latin-1").strip()
    scheme = header.partition(" ")[0]
    known = [a.keyword for a in request.authenticators if getattr(a, "keyword", None)]
    if scheme and scheme.lower() not in (name.lower() for name in known):
        ways = " or ".join(f"'Authorization: {_HOW.get(name, name + ' <key>')}" for name in known)
        raise exceptions.AuthenticationFailed(
            f"Unknown authorization scheme {scheme[:20]!r}: send {ways}."
        )


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    """Authorization: Access <WEBHOOKS_AUTH_KEY>: the service principal (Agenta, cron).

    As the first authentication class it also refuses the schemes no class of the view knows.
    """

    keyword = "Access"

    def authenticate(self, request):
        _refuse_unknown_scheme(request)
        presented = _credentials(request, self.keyword)
        if presented is None:
            return None
        expected = settings.WEBHOOKS_AUTH_KEY
        if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid service key.")
        return Principal(kind="service", name="service"), None

    def authenticate_header(self, request):
        return 'Access realm="webhooks", ApiKey realm="webhooks"'


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authorization: ApiKey <prefix>.<secret>: a project API key with scopes."""

    keyword = "ApiKey"

    def authenticate(self, request):
        presented = _credentials(request, self.keyword)
        if presented is None:
            return None
        key = authenticate_api_key(presented)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        principal = Principal(
            kind="api_key",
            project_id=key.project_id,
            scopes=frozenset(key.scopes),
            name=f"{key.prefix} ({key.name})",
        )
        return principal, key

    def authenticate_header(self, request):
        return 'ApiKey realm="webhooks"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A logged-in staff user's Django session (browsable API); CSRF is enforced."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        user = result[0]
        return Principal(kind="staff", name=user.get_username(), user=user), None


def required_scope(view, method: str) -> str | None:
    """Return the API key scope that method on view needs (None: no key may call it)."""
    scope = getattr(view, "action_scopes", {}).get(getattr(view, "action", None))
    if scope is None:
        safe = method.upper() in permissions.SAFE_METHODS
        scope = getattr(view, "read_scope" if safe else "write_scope", None)
    return scope


def required_permission(view, method: str) -> str | None:
    """Return the model permission a staff user needs (None: only superusers may call it)."""
    perms = getattr(view, "staff_permissions", {})
    action = getattr(view, "action", None)
    if action in perms:
        return perms[action]
    return perms.get("read" if method.upper() in permissions.SAFE_METHODS else "write")


class ProjectAccess(permissions.BasePermission):
    """The caller may use the project in the URL, with the scope or permission it needs.

    Views name their scopes with `read_scope` (safe methods) and `write_scope`, and may map
    actions to other scopes with `action_scopes`. A project key used on another project gets a
    404, so the other project's resources are not revealed. A view that names no scope is closed
    to project keys. Staff need the permission that `staff_permissions` names ("read", "write"
    or an action); where it names none, only superusers may call.
    """

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return False
        project_id = view.kwargs.get("project_id")
        if project_id is not None and not principal.can_access_project(project_id):
            raise exceptions.NotFound()
        if principal.kind == "staff":
            return _staff_may(principal, required_permission(view, request.method))
        if not principal.is_project_key:
            return True
        scope = required_scope(view, request.method)
        if scope is None:
            raise exceptions.PermissionDenied("API keys may not call this endpoint.")
        if not principal.has_scope(scope):
            raise exceptions.PermissionDenied(f"This API key lacks the {scope!r} scope.")
        return True


def _staff_may(principal: Principal, perm: str | None) -> bool:
    if perm is None and not principal.is_superuser:
        raise exceptions.PermissionDenied(ServiceOnly.message)
    if perm is not None and not principal.has_perm(perm):
        raise exceptions.PermissionDenied(f"Your user lacks the {perm!r} permission.")
    return True


class ServiceOnly(permissions.BasePermission):
    """Only the service key or a superuser: the operations endpoints under /api/admin/."""

    message = "Only the service key or a superuser may call this endpoint."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        return isinstance(principal, Principal) and principal.is_superuser
