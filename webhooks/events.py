"""The event-type catalogue: data schemas, example payloads and the envelope events are sent in."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from rest_framework.exceptions import ValidationError

from webhooks import event_schemas
from webhooks.event_schemas import Schema
from webhooks.event_validation import compile_schema
from webhooks.operator_events import OPERATOR_EVENT_TYPES

WILDCARD = "*"  # in a webhook's event_types: every type


@dataclass(frozen=True)
class EventType:
    """One entry of the catalogue."""

    name: str
    description: str
    schema: Schema  # JSON Schema of the data, served by GET /api/event-types
    example: dict[str, Any]
    emittable: bool = True
    operator_only: bool = False  # sent to the operator's webhook only (webhooks/operator_events)
    errors: Callable[[Any], dict[str, list[str]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "errors", compile_schema(self.schema))


_APP = {"id": "0192a45d-5ba1-757e-a983-787a66a4e78d", "slug": "support-bot", "version": None}
_VARIANT = {
    "id": "0196f0a2-7c1e-7d21-9e55-3b8f1c2d4e6a",
    "slug": "concise",
    "version": 4,
    "commit_message": "Shorter answers",
}
_ENVIRONMENT = {
    "id": "0196f0a3-1d2e-7f30-8a41-5c6d7e8f9a0b",
    "slug": "production",
    "version": 12,
    "commit_message": None,
}
_USER = "0190b1c2-d3e4-7f56-8a9b-0c1d2e3f4a5b"
_LIFECYCLE = {
    "created_at": "2025-06-02T09:29:58.120000+00:00",
    "updated_at": "2025-06-02T09:29:58.120000+00:00",
    "updated_by_id": _USER,
    "updated_by": "ada@example.com",
}
_CONFIG = {
    "params": {
        "prompt": {
            "messages": [
                {"role": "system", "content": "You answer support questions in two sentences."},
                {"role": "user", "content": "{{question}}"},
            ],
            "llm_config": {"model": "gpt-4o-mini", "temperature": 0.2},
        }
    },
    "url": "https://cloud.agenta.ai/services/completion",
    "application_ref": _APP,
    "service_ref": None,
    "variant_ref": _VARIANT,
    "environment_ref": _ENVIRONMENT,
    "variant_lifecycle": _LIFECYCLE,
    "environment_lifecycle": _LIFECYCLE,
}

EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in [
        EventType(
            "config.deployed",
            "A prompt config was deployed to an environment.",
            event_schemas.CONFIG_DEPLOYED,
            {"config": _CONFIG, "deployed_by": _USER},
        ),
        EventType(
            "config.committed",
            "A new config version was committed to a variant.",
            event_schemas.CONFIG_COMMITTED,
            {"config": {**_CONFIG, "environment_ref": None}, "committed_by": _USER},
        ),
        EventType(
            "variant.created",
            "A variant was created.",
            event_schemas.VARIANT_CREATED,
            {"application_ref": _APP, "variant_ref": _VARIANT, "created_by": _USER},
        ),
        EventType(
            "variant.deleted",
            "A variant was deleted.",
            event_schemas.VARIANT_DELETED,
            {"application_ref": _APP, "variant_ref": _VARIANT, "deleted_by": _USER},
        ),
        EventType(
            "evaluation.completed",
            "An evaluation run finished.",
            event_schemas.EVALUATION_COMPLETED,
            {
                "evaluation": {"id": "0196f0b0-0000-7000-8000-00000000e001", "status": "success"},
                "application_ref": _APP,
                "variant_ref": _VARIANT,
            },
        ),
        EventType(
            "webhook.test",
            "A test ping sent from the API or the admin; not emittable.",
            event_schemas.WEBHOOK_TEST,
            {"webhook_id": "0196f0c0-0000-7000-8000-00000000a001", "message": "Test event."},
            emittable=False,
        ),
    ]
}
EVENT_TYPES.update(
    (name, EventType(name, *entry, emittable=False, operator_only=True))
    for name, entry in OPERATOR_EVENT_TYPES.items()
)


def subscribable_types() -> list[str]:
    """Return the names a webhook may list in event_types (besides "*")."""
    return [t.name for t in EVENT_TYPES.values() if not t.operator_only]


def is_operator_type(name: str) -> bool:
    """Return whether name is an operator-only type (which "*" does not cover)."""
    event_type = EVENT_TYPES.get(name)
    return event_type is not None and event_type.operator_only


def emittable_types() -> list[str]:
    """Return the names the emit endpoint accepts."""
    return [t.name for t in EVENT_TYPES.values() if t.emittable]


def emittable(name: str, operator: bool = False) -> EventType:
    """Return the event type called name, or raise a ValidationError naming the known ones.

    operator: the event goes to the operator's project, which takes operator types only.
    """
    event_type = EVENT_TYPES.get(name)
    if operator and event_type is not None and event_type.operator_only:
        return event_type
    if event_type is None or not event_type.emittable:
        known = ", ".join(emittable_types())
        reason = "is not emittable" if event_type else "is not a known event type"
        raise ValidationError({"type": [f"{name!r} {reason}; known types: {known}."]})
    return event_type


def validate_data(event_type: EventType, data: Any) -> None:
    """Raise a ValidationError keyed by field path ("data.config.environment_ref.slug")."""
    errors = event_type.errors(data)
    if errors:
        raise ValidationError(errors)


_SCOPE = (("application_ref", "id"), ("application_ref", "slug"), ("environment_ref", "slug"))


def scope(data: dict) -> tuple[str, str, str]:
    """Return the (application id, application slug, environment slug) that filters match.

    They are stored in columns, so one that a column can't hold (a NUL character, or over 255
    characters) raises a ValidationError keyed by its field path. The references may also be
    extra fields that no schema declares.
    """
    in_config = isinstance(data.get("config"), dict)
    holder, prefix = (data["config"], "data.config") if in_config else (data, "data")
    found, errors = [], {}
    for name, key in _SCOPE:
        reference = holder.get(name)
        value = reference.get(key) if isinstance(reference, dict) else None
        text = str(value) if value else ""
        if "\x00" in text or len(text) > event_schemas.MAX_REF_CHARS:
            message = f"At most {event_schemas.MAX_REF_CHARS} characters, and no NUL character."
            errors[f"{prefix}.{name}.{key}"] = [message]
        found.append(text)
    if errors:
        raise ValidationError(errors)
    return found[0], found[1], found[2]


def format_timestamp(moment: datetime) -> str:
    """Return moment as ISO 8601 UTC with milliseconds: 2025-06-02T09:30:00.000Z."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_envelope(
    event_id: Any, event_type: str, project_id: Any, timestamp: datetime, data: Any
) -> str:
    """Return the compact UTF-8 JSON envelope that every delivery of the event signs and sends."""
    envelope = {
        "id": str(event_id),
        "type": event_type,
        "timestamp": format_timestamp(timestamp),
        "project_id": str(project_id),
        "data": data,
    }
    # orjson writes compact UTF-8 and keeps key order: receivers see Agenta's config in the
    # order Agenta wrote it.
    return orjson.dumps(envelope).decode()


def example_envelope(name: str) -> dict[str, Any]:
    """Return what a receiver gets for an event of this type, with made-up ids."""
    body = render_envelope(
        "0196f0d0-4a5b-7c6d-8e9f-0a1b2c3d4e5f",
        name,
        "0190a000-0000-7000-8000-000000000001",
        datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        EVENT_TYPES[name].example,
    )
    return orjson.loads(body)
