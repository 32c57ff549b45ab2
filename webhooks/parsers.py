"""The API's request parser: JSON only, with the body size limit enforced on the stream."""

import io

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django checks the limit only in `request.body`; DRF reads the raw stream, so the check is
    repeated here (the exception handler turns RequestDataTooBig into a 413).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            request = (parser_context or {}).get("request")
            declared = request.META.get("CONTENT_LENGTH") if request is not None else None
            if declared and declared.isdigit() and int(declared) > limit:
                raise RequestDataTooBig(f"body over {limit} bytes")
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestDataTooBig(f"body over {limit} bytes")
            stream = io.BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
