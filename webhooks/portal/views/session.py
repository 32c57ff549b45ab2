"""Open a portal link, sign out, and read the event catalogue."""

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from webhooks import events
from webhooks.portal.access import (
    current_session,
    end_cookie,
    page,
    portal_page,
    problem,
    protect,
    start_session,
)
from webhooks.portal.sessions import LinkRefused, end_session, open_link


@require_GET
def open_portal(request: HttpRequest) -> HttpResponse:
    """Start the session the link's token names; redirect, so the token leaves the URL."""
    try:
        session = open_link(request.GET.get("token", ""))
    except LinkRefused as refused:
        current = current_session(request)
        if refused.reason == "used" and current and current.id == refused.session_id:
            # This browser opened the link already: a reload of the frame, not a second user.
            return protect(redirect("portal:home"))
        return problem(request, refused.reason)
    response = redirect("portal:home")
    start_session(request, response, session)
    return protect(response)


@require_POST
@portal_page()
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the session and forget its cookie."""
    end_session(request.portal)
    response = problem(request, "no_session")
    end_cookie(response)
    return response


def _entry(event_type: events.EventType) -> dict:
    return {
        "type": event_type,
        "schema": json.dumps(event_type.schema, indent=2),
        "example": json.dumps(events.example_envelope(event_type.name), indent=2),
    }


@require_GET
@portal_page()
def event_types(request: HttpRequest) -> HttpResponse:
    """List the event types in three groups, each with its description, schema and example.

    The ones a webhook can subscribe to, the test ping, and the operator's events (which no
    project's webhook receives).
    """
    catalogue = events.EVENT_TYPES.values()
    groups = {
        "subscribable": [_entry(t) for t in catalogue if t.emittable and not t.operator_only],
        "test": [_entry(t) for t in catalogue if not t.emittable and not t.operator_only],
        "operator": [_entry(t) for t in catalogue if t.operator_only],
    }
    return page(request, "portal/event_types.html", groups)
