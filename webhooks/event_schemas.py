"""Each event type's data as a JSON Schema document (draft 2020-12), served and compiled as is.

They only validate: the data is stored and sent as the emitter wrote it, so unknown fields are
kept and Agenta can add fields without a change here. The documents are plain dicts, built by
the small helpers below so that a reference or a lifecycle reads the same in every type.
"""

from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_REF_CHARS = 255  # an id or a slug: filters match them in varchar(255) columns

Schema = dict[str, Any]


def _nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def _text(description: str | None = None, *, max_length: int | None = None) -> Schema:
    schema: Schema = {"type": ["string", "null"]}
    if max_length:
        schema["maxLength"] = max_length
    if description:
        schema["description"] = description
    return schema


NOT_BLANK = "\\S"  # DRF trimmed required text, so text of spaces only was blank
PATTERN_MESSAGES = {NOT_BLANK: "This field may not be blank."}
ID_OR_SLUG = "Give an id or a slug."  # what failing id_or_slug_reference()'s anyOf means

_REF_TEXT: Schema = _text(max_length=MAX_REF_CHARS)
_REQUIRED_TEXT: Schema = {"type": "string", "pattern": NOT_BLANK}


def reference(description: str | None = None) -> Schema:
    """Return Agenta's ReferenceDTO: an entity by id and/or slug, and a version."""
    schema: Schema = {
        "type": "object",
        "properties": {
            "id": _REF_TEXT,
            "slug": _REF_TEXT,
            "version": {"type": ["integer", "null"]},
            "commit_message": _text(),
        },
    }
    if description:
        schema["description"] = description
    return schema


def id_or_slug_reference(description: str | None = None) -> Schema:
    """Return a reference that must name its entity by a non-empty id or slug."""
    named = {"type": "string", "minLength": 1}
    return {
        **reference(description),
        "anyOf": [
            {"required": ["id"], "properties": {"id": named}},
            {"required": ["slug"], "properties": {"slug": named}},
        ],
    }


def slug_reference(description: str) -> Schema:
    """Return a reference that must carry a slug (environments are matched by slug)."""
    schema = reference(description)
    slug = {**_REQUIRED_TEXT, "maxLength": MAX_REF_CHARS}
    schema["properties"] = {**schema["properties"], "slug": slug}
    return {**schema, "required": ["slug"]}


_DATE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
LIFECYCLE: Schema = {
    "type": ["object", "null"],
    "description": "Agenta's LifecycleDTO: who changed the entity, and when.",
    "properties": {
        "created_at": _DATE_TIME,
        "updated_at": _DATE_TIME,
        "updated_by_id": _text(),
        "updated_by": _text(),
    },
}


def _user(description: str) -> Schema:
    return _text(description, max_length=255)


def config(required: list[str], **changes: Schema) -> Schema:
    """Return Agenta's ConfigResponseModel as configs_deploy returns it, with changes."""
    properties = {
        "params": {"type": "object", "description": "The prompt config's parameters."},
        "url": _text(),
        "application_ref": id_or_slug_reference("The application; id or slug is required."),
        "service_ref": _nullable(reference()),
        "variant_ref": _nullable(reference()),
        "environment_ref": slug_reference("The environment deployed to; slug is required."),
        "application_lifecycle": LIFECYCLE,
        "service_lifecycle": LIFECYCLE,
        "variant_lifecycle": LIFECYCLE,
        "environment_lifecycle": LIFECYCLE,
    } | changes
    return {"type": "object", "properties": properties, "required": required}


def data(properties: dict[str, Schema], required: list[str]) -> Schema:
    """Return the document for one event type's data."""
    return {"$schema": DIALECT, "type": "object", "properties": properties, "required": required}


CONFIG_DEPLOYED = data(
    {
        "config": config(["application_ref", "environment_ref"]),
        "deployed_by": _user("The id of the user who deployed."),
    },
    ["config"],
)
CONFIG_COMMITTED = data(
    {
        "config": config(
            ["application_ref", "variant_ref"],
            variant_ref=id_or_slug_reference("The variant committed to; id or slug is required."),
            environment_ref=_nullable(reference()),
        ),
        "committed_by": _user("The id of the user who committed."),
    },
    ["config"],
)
VARIANT_CREATED = data(
    {
        "application_ref": id_or_slug_reference(),
        "variant_ref": id_or_slug_reference(),
        "created_by": _user("The id of the user who created the variant."),
    },
    ["application_ref", "variant_ref"],
)
VARIANT_DELETED = data(
    {
        "application_ref": id_or_slug_reference(),
        "variant_ref": id_or_slug_reference(),
        "deleted_by": _user("The id of the user who deleted the variant."),
    },
    ["application_ref", "variant_ref"],
)
EVALUATION_COMPLETED = data(
    {
        "evaluation": {
            "type": "object",
            "properties": {
                "id": {**_REQUIRED_TEXT, "maxLength": 255},
                "name": _text(),
                "status": {
                    **_REQUIRED_TEXT,
                    "maxLength": 100,
                    "description": "How the run ended, e.g. success.",
                },
            },
            "required": ["id", "status"],
        },
        "application_ref": _nullable(id_or_slug_reference()),
        "variant_ref": _nullable(reference()),
    },
    ["evaluation"],
)
WEBHOOK_TEST = data(
    {
        "webhook_id": {"type": "string", "format": "uuid"},
        "message": _REQUIRED_TEXT,
    },
    ["webhook_id", "message"],
)
