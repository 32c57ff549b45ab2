"""Who uses the portal: the session cookie, the role, the form token, and the framing headers.

The portal keeps its own signed cookie (path /portal/), apart from the admin's session, and
checks its own form token rather than Django's CSRF cookie: Django's cookies are SameSite=Lax,
which a browser does not send inside a frame on another site such as Agenta's settings page.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from webhooks import wire
from webhooks.conf import app_settings
from webhooks.fields import is_undecryptable
from webhooks.models import PortalSession
from webhooks.portal.sessions import live_session
from webhooks.portal.tokens import COOKIE_SALT, csrf_matches, csrf_token

COOKIE_NAME = "webhooks_portal"
CSRF_FIELD = "portal_csrf"
PROBLEMS = {
    "invalid": (
        400,
        "This link is not valid",
        "It was changed or cut short. Open the portal again from Agenta to get a new link.",
    ),
    "used": (
        410,
        "This link was already used",
        "Each link opens the portal once. Open the portal again from Agenta to get a new link.",
    ),
    "expired": (
        410,
        "This link has expired",
        "Links are valid for a few minutes. Open the portal again from Agenta to get a new link.",
    ),
    "no_session": (
        401,
        "Your portal session has ended",
        "Sessions last a few hours, or until you sign out. Open the portal again from Agenta.",
    ),
    "read_only": (
        403,
        "Read-only access",
        "This portal session may look but not change "
        "anything. Ask for a read-write link in Agenta.",
    ),
    "csrf": (403, "This form has expired", "Reload the page and send the form again."),
    "not_found": (404, "Not found", "There is no such webhook or delivery in this project."),
}

# What a page says after a redirect (?notice=...): the portal keeps no flash messages, since
# the messages framework's cookie is not sent inside a cross-site frame.
NOTICES = {
    "created": "Webhook created. Reveal its signing secret to verify the deliveries.",
    "saved": "Changes saved.",
    "enabled": "Webhook enabled.",
    "disabled": "Webhook disabled: it receives no events until enabled again.",
    "deleted": "Webhook deleted.",
    "retried": "The delivery is queued for another attempt.",
}


def problem(request: HttpRequest, reason: str) -> HttpResponse:
    """Return the page that explains a refusal (a bad link, an ended session, ...)."""
    status, title, text = PROBLEMS[reason]
    context = {"title": title, "text": text, "reason": reason}
    return protect(render(request, "portal/problem.html", context, status=status))


def protect(response: HttpResponse) -> HttpResponse:
    """Add the portal's framing, content and caching headers to response."""
    ancestors = app_settings.PORTAL_FRAME_ANCESTORS
    framers = " ".join(ancestors) if ancestors else "'none'"
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors {framers}"
    )
    if ancestors:
        # CSP frame-ancestors decides; the global X-Frame-Options: DENY would forbid every frame.
        response.xframe_options_exempt = True
    response["Cache-Control"] = "no-store"  # pages may show secrets and payloads
    return response


def start_session(request: HttpRequest, response: HttpResponse, session: PortalSession) -> None:
    """Give the browser the cookie of session (HttpOnly, only under /portal/)."""
    framed = bool(app_settings.PORTAL_FRAME_ANCESTORS)
    response.set_signed_cookie(
        COOKIE_NAME,
        str(session.id),
        salt=COOKIE_SALT,
        max_age=int((session.expires_at - session.opened_at).total_seconds()),
        path=reverse("portal:home"),
        # Inside another site's frame a browser sends only SameSite=None cookies, which it
        # accepts only when Secure (https, or localhost in some browsers).
        secure=framed or request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="None" if framed else "Lax",
    )


def end_cookie(response: HttpResponse) -> None:
    """Tell the browser to drop the portal cookie."""
    framed = bool(app_settings.PORTAL_FRAME_ANCESTORS)
    response.delete_cookie(
        COOKIE_NAME, path=reverse("portal:home"), samesite="None" if framed else "Lax"
    )


def current_session(request: HttpRequest) -> PortalSession | None:
    """Return the live portal session the request's cookie names, or None."""
    session_id = request.get_signed_cookie(COOKIE_NAME, default=None, salt=COOKIE_SALT)
    if not session_id:
        return None
    try:
        return live_session(session_id)
    except ValueError:  # a signed value that is not a UUID: treat as no session
        return None


def portal_page(write: bool = False) -> Callable:
    """Decorate a portal view: require a live session (and the read-write role if write).

    The view finds the session in request.portal. POSTs must carry the session's form token;
    an Http404 raised by the view (another project's id) becomes the portal's 404 page.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @csrf_exempt  # replaced by the session-bound form token below
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            session = current_session(request)
            if session is None:
                return problem(request, "no_session")
            if write and not session.can_write:
                return problem(request, "read_only")
            if request.method == "POST" and not csrf_matches(
                session.id, request.POST.get(CSRF_FIELD)
            ):
                return problem(request, "csrf")
            request.portal = session
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                return problem(request, "not_found")
            return protect(response)

        return wrapper

    return decorate


def shown_url(session: PortalSession, url: str) -> str:
    """Return a webhook URL as session may see it: whole if it may write, else redacted.

    The rule of the API (serializers.webhooks.UrlField): a token in the path or the query
    (Slack's /services/T.../B.../..., ?token=...) is a credential, for writers only.
    """
    if is_undecryptable(url):
        return "undecryptable URL"
    return str(url) if session.can_write else wire.redacted_url(url)


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a portal template with the session, its role and its form token."""
    session = request.portal
    base = {
        "portal": session,
        "can_write": session.can_write,
        "csrf": csrf_token(session.id),
        "csrf_field": CSRF_FIELD,
        "notice": NOTICES.get(request.GET.get("notice", "")),
    }
    return render(request, template, {**base, **context}, status=status)
