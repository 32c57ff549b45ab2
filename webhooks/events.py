"""The event-type catalogue: data schemas, example payloads and the envelope events are sent in."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from webhooks.operator_events import OPERATOR_EVENT_TYPES
from webhooks.serializers.events import (
    ConfigCommittedData,
    ConfigDeployedData,
    EvaluationCompletedData,
    VariantCreatedData,
    VariantDeletedData,
    WebhookTestData,
)

WILDCARD = "*"  # in a webhook's event_types: every type


@dataclass(frozen=True)
class EventType:
    """One entry of the catalogue."""

    name: str
    description: str
    schema: type[serializers.Serializer] | dict[str, Any]  # a dict is a JSON Schema
    example: dict[str, Any]
    emittable: bool = True
    operator_only: bool = False  # sent to the operator's webhook only (webhooks/operator_events)


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
            ConfigDeployedData,
            {"config": _CONFIG, "deployed_by": _USER},
        ),
        EventType(
            "config.committed",
            "A new config version was committed to a variant.",
            ConfigCommittedData,
            {"config": {**_CONFIG, "environment_ref": None}, "committed_by": _USER},
        ),
        EventType(
            "variant.created",
            "A variant was created.",
            VariantCreatedData,
            {"application_ref": _APP, "variant_ref": _VARIANT, "created_by": _USER},
        ),
        EventType(
            "variant.deleted",
            "A variant was deleted.",
            VariantDeletedData,
            {"application_ref": _APP, "variant_ref": _VARIANT, "deleted_by": _USER},
        ),
        EventType(
            "evaluation.completed",
            "An evaluation run finished.",
            EvaluationCompletedData,
            {
                "evaluation": {"id": "0196f0b0-0000-7000-8000-00000000e001", "status": "success"},
                "application_ref": _APP,
                "variant_ref": _VARIANT,
            },
        ),
        EventType(
            "webhook.test",
            "A test ping sent from the API or the admin; not emittable.",
            WebhookTestData,
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
    if isinstance(event_type.schema, dict):
        validator = jsonschema.Draft202012Validator(event_type.schema)
        errors: dict[str, list[str]] = {}
        for error in validator.iter_errors(data):
            path = ".".join(["data", *(str(part) for part in error.absolute_path)])
            errors.setdefault(path, []).append(error.message)
        if errors:
            raise ValidationError(errors)
        return
    schema = event_type.schema(data=data)
    if not schema.is_valid():
        raise ValidationError(error_paths(schema.errors, "data"))


def error_paths(detail: Any, path: str) -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into {"a.b.c": [messages]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            sub = path if key == api_settings.NON_FIELD_ERRORS_KEY else f"{path}.{key}"
            for sub_path, messages in error_paths(value, sub).items():
                flat.setdefault(sub_path, []).extend(messages)
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(error_paths(item, f"{path}.{index}"))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {path: [str(message) for message in messages]}


def scope(data: dict) -> tuple[str, str, str]:
    """Return the (application id, application slug, environment slug) that filters match."""
    holder = data.get("config") if isinstance(data.get("config"), dict) else data
    application = holder.get("application_ref") or {}
    environment = holder.get("environment_ref") or {}
    return (
        str(application.get("id") or ""),
        str(application.get("slug") or ""),
        str(environment.get("slug") or ""),
    )


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
    # No sort_keys: receivers see Agenta's config in the order Agenta wrote it.
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def example_envelope(name: str) -> dict[str, Any]:
    """Return what a receiver gets for an event of this type, with made-up ids."""
    body = render_envelope(
        "0196f0d0-4a5b-7c6d-8e9f-0a1b2c3d4e5f",
        name,
        "0190a000-0000-7000-8000-000000000001",
        datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        EVENT_TYPES[name].example,
    )
    return json.loads(body)
