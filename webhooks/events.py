"""The event-type catalogue: names, descriptions, data schemas and example payloads."""

# Filled in by the emission work: each type gets a data serializer and an example payload.
EVENT_TYPES: dict[str, str] = {
    "config.deployed": "A prompt config was deployed to an environment.",
    "config.committed": "A new config version was committed to a variant.",
    "variant.created": "A variant was created.",
    "variant.deleted": "A variant was deleted.",
    "evaluation.completed": "An evaluation run finished.",
    "webhook.test": "A test ping sent from the API or the admin; not emittable.",
}
NOT_EMITTABLE = {"webhook.test"}
WILDCARD = "*"


def subscribable_types() -> list[str]:
    """Return the names a webhook may list in event_types (besides "*")."""
    return list(EVENT_TYPES)


def emittable_types() -> list[str]:
    """Return the names the emit endpoint accepts."""
    return [name for name in EVENT_TYPES if name not in NOT_EMITTABLE]
