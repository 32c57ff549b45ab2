"""Cursor pagination for every list of the API: newest first by id (UUIDv7 = creation order)."""

import uuid

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

INVALID_CURSOR = "Invalid cursor: use the next or previous link of a page."


class IdCursorPagination(CursorPagination):
    """Pages of `limit` rows (default 50, at most 100) ordered by -id, with opaque cursors.

    Any list whose primary key is a UUIDv7 can use it; an unreadable cursor answers 400.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from exc
        if cursor is not None and cursor.position is not None:
            try:
                uuid.UUID(cursor.position)
            except ValueError as exc:
                raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from exc
        return cursor
