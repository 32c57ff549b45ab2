"""Operator event types: what the service tells its operator about itself (JSON Schema 2020-12).

They go only to the operator's webhook (WEBHOOKS["OPERATOR_WEBHOOK_URL"]) as events of the
reserved project WEBHOOKS["OPERATOR_PROJECT_ID"]; no project can subscribe to them or emit them.
webhooks/events.py registers them in the catalogue, marked operator_only.
"""

from typing import Any

WEBHOOK_DISABLED = "webhook.disabled"
WEBHOOK_FAILING = "webhook.failing"
DELIVERY_EXHAUSTED = "delivery.exhausted"

_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_WEBHOOK = {
    "type": "object",
    "description": "The project's webhook this event is about.",
    "properties": {
        "id": _UUID,
        "project_id": _UUID,
        "name": {"type": "string"},
        "url": {
            "type": "string",
            "description": "Path and query values redacted (https://host/…?name=…).",
        },
    },
    "required": ["id", "project_id", "name", "url"],
}
_LAST_ANSWER = {
    "last_status_code": {
        "type": ["integer", "null"],
        "description": "HTTP status of the last attempt; null when no answer came back.",
    },
    "last_error": {"type": "string", "description": "Why the last attempt failed."},
}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
    }


_EXAMPLE_WEBHOOK = {
    "id": "0196f0c0-0000-7000-8000-00000000a001",
    "project_id": "0190a000-0000-7000-8000-000000000001",
    "name": "Deploy notifier",
    "url": "https://ci.example.com/…",
}

# name -> (description, data schema, example data)
OPERATOR_EVENT_TYPES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    WEBHOOK_DISABLED: (
        "A webhook was disabled automatically (it answered 410, or failed for days).",
        _schema(
            {
                "webhook": _WEBHOOK,
                "reason": {"type": "string"},
                "disabled_at": _TIME,
                "failing_since": _NULLABLE_TIME,
            },
            ["webhook", "reason", "disabled_at", "failing_since"],
        ),
        {
            "webhook": _EXAMPLE_WEBHOOK,
            "reason": "endpoint answered 410 Gone",
            "disabled_at": "2025-06-02T09:30:00.000Z",
            "failing_since": "2025-06-02T09:30:00.000Z",
        },
    ),
    WEBHOOK_FAILING: (
        "A webhook's delivery failed after a success (sent at most once a day per webhook).",
        _schema(
            {"webhook": _WEBHOOK, "failing_since": _TIME, **_LAST_ANSWER},
            ["webhook", "failing_since", "last_status_code", "last_error"],
        ),
        {
            "webhook": _EXAMPLE_WEBHOOK,
            "failing_since": "2025-06-02T09:30:00.000Z",
            "last_status_code": 503,
            "last_error": "HTTP 503 Service Unavailable",
        },
    ),
    DELIVERY_EXHAUSTED: (
        "A delivery failed for good: its last attempt failed and no retry follows.",
        _schema(
            {
                "webhook": _WEBHOOK,
                "delivery": {
                    "type": "object",
                    "properties": {
                        "id": _UUID,
                        "event_id": _UUID,
                        "event_type": {"type": "string"},
                        "attempts": {"type": "integer", "minimum": 1},
                        **_LAST_ANSWER,
                    },
                    "required": [
                        "id",
                        "event_id",
                        "event_type",
                        "attempts",
                        "last_status_code",
                        "last_error",
                    ],
                },
            },
            ["webhook", "delivery"],
        ),
        {
            "webhook": _EXAMPLE_WEBHOOK,
            "delivery": {
                "id": "0196f0d1-0000-7000-8000-00000000d001",
                "event_id": "0196f0d0-4a5b-7c6d-8e9f-0a1b2c3d4e5f",
                "event_type": "config.deployed",
                "attempts": 7,
                "last_status_code": None,
                "last_error": "timed out after 10 s",
            },
        },
    ),
}
