"""The project's events across its webhooks: each event, and which webhooks got it."""

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from webhooks.models import Delivery, Event
from webhooks.portal.access import page, portal_page
from webhooks.portal.filters import EventFilterForm, next_query, page_of

PAGE_SIZE = 25  # events per page
# What a row shows of each delivery: no body, no encrypted webhook field to decrypt.
DELIVERY_FIELDS = (
    "id",
    "event_id",
    "status",
    "attempt_count",
    "next_attempt_at",
    "webhook__id",
    "webhook__name",
    "webhook__deleted_at",
)


@require_GET
@portal_page()
def event_list(request: HttpRequest) -> HttpResponse:
    """List the project's events, newest first, each with its deliveries and their states.

    Three queries whatever the page holds: the session, the events, their deliveries.
    """
    filters = EventFilterForm(request.GET)
    rows, more = [], False
    if filters.is_valid():
        deliveries = (
            Delivery.objects.select_related("webhook")
            .only(*DELIVERY_FIELDS)
            .order_by("webhook__name", "id")
        )
        events = (
            filters.apply(Event.objects.filter(project_id=request.portal.project_id))
            .defer("body")
            .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        )
        rows, more = page_of(events, filters.cleaned_data["before"], PAGE_SIZE)
    context = {
        "filters": filters,
        "events": rows,
        "next_query": next_query(request, rows, more),
    }
    return page(request, "portal/event_list.html", context, status=400 if filters.errors else 200)
