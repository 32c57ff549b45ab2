"""Request guards that run before any view: query parameters PostgreSQL could not handle."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL_MESSAGE = "Null characters are not allowed."  # DRF's wording for the same fault in a body


class RejectNulInQuery:
    """Answer 400 naming the parameter when a query string holds a NUL character.

    PostgreSQL refuses NUL in text, so a NUL that reached a filter (an API list, an admin
    search) would answer 500. No parameter of this service can legitimately hold one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return JsonResponse({name.replace("\x00", "\\u0000"): [NUL_MESSAGE]}, status=400)
        return self.get_response(request)
