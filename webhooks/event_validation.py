"""Compiled validators of event data: a few microseconds when the data is valid, and every
failing field path, keyed as "data.config.environment_ref.slug", when it is not.

jsonschema-rs compiles each JSON Schema document once (docs/performance.md, "Emit validation",
compares it with fastjsonschema, which stops at the first error, and with DRF serializers).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import jsonschema_rs

from webhooks.event_schemas import ID_OR_SLUG, PATTERN_MESSAGES, Schema

_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
}
_FORMATS = {"date-time": "an ISO 8601 date and time", "uuid": "a UUID"}


def _is_datetime(value: str) -> bool:
    # As lenient as DRF's DateTimeField was: ISO 8601, "Z" or an offset, or none.
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def compile_schema(schema: Schema) -> Callable[[Any], dict[str, list[str]]]:
    """Return a function of data that returns its errors by field path ({} when it is valid)."""
    validator = jsonschema_rs.validator_for(
        schema, validate_formats=True, formats={"date-time": _is_datetime}
    )

    def errors(data: Any) -> dict[str, list[str]]:
        if validator.is_valid(data):  # the fast path: no error objects built
            return {}
        flat: dict[str, list[str]] = {}
        for error in validator.iter_errors(data):
            path = ".".join(["data", *(str(part) for part in error.instance_path)])
            kind = error.kind
            if kind.name == "required":
                path, message = f"{path}.{kind.property}", "This field is required."
            else:
                message = _message(kind, error.instance)
            flat.setdefault(path, []).append(message)
        return flat

    return errors


def _message(kind: Any, value: Any) -> str:
    """Return what a user reads for one failed keyword (DRF's wording where it had one)."""
    match kind.name:
        case "type" if value is None:
            return "This field may not be null."
        case "type":
            expected = [_JSON_TYPES.get(t, t) for t in kind.types if t != "null"]
            return f"Expected {' or '.join(expected)}."
        case "maxLength":
            return f"Ensure this field has no more than {kind.limit} characters."
        case "minLength":
            return "This field may not be blank."
        case "pattern":
            return PATTERN_MESSAGES.get(kind.pattern, f"Must match {kind.pattern}.")
        case "format":
            return f"Expected {_FORMATS.get(kind.format, kind.format)}."
        case "minimum":
            return f"Ensure this value is greater than or equal to {kind.limit}."
        case "maximum":
            return f"Ensure this value is less than or equal to {kind.limit}."
        case "anyOf":
            return ID_OR_SLUG  # the only anyOf in the documents
    return f"Invalid ({kind.name})."
