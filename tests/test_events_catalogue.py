"""The event-type catalogue: schemas, examples, the envelope, and GET /api/event-types."""

import copy
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from webhooks import events

DEPLOYED = events.EVENT_TYPES["config.deployed"]


def deploy_data(**config_changes) -> dict:
    data = copy.deepcopy(DEPLOYED.example)
    data["config"].update(config_changes)
    return data


def errors_of(event_type: events.EventType, data) -> dict:
    with pytest.raises(ValidationError) as caught:
        events.validate_data(event_type, data)
    return caught.value.detail


def test_catalogue_holds_the_mvp_the_v2_types_and_the_test_ping():
    assert events.subscribable_types() == [
        "config.deployed",
        "config.committed",
        "variant.created",
        "variant.deleted",
        "evaluation.completed",
        "webhook.test",
    ]
    assert "webhook.test" not in events.emittable_types()
    assert events.WILDCARD == "*"


@pytest.mark.parametrize("name", events.subscribable_types())
def test_every_type_has_a_description_and_an_example_its_schema_accepts(name):
    event_type = events.EVENT_TYPES[name]
    assert event_type.description
    events.validate_data(event_type, event_type.example)  # raises if the example is wrong
    envelope = events.example_envelope(name)
    assert list(envelope) == ["id", "type", "timestamp", "project_id", "data"]
    assert envelope["type"] == name
    assert envelope["data"] == event_type.example


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (
            deploy_data(environment_ref={"id": "x", "version": 3}),
            "data.config.environment_ref.slug",
        ),
        (deploy_data(environment_ref=None), "data.config.environment_ref"),
        (deploy_data(application_ref={"version": 1}), "data.config.application_ref"),
        (deploy_data(application_ref={"id": "", "slug": None}), "data.config.application_ref"),
        (deploy_data(params=["not", "an", "object"]), "data.config.params"),
        (
            deploy_data(variant_ref={"slug": "a", "version": "three"}),
            "data.config.variant_ref.version",
        ),
        (deploy_data(environment_ref={"slug": "p" * 256}), "data.config.environment_ref.slug"),
        ({"deployed_by": "someone"}, "data.config"),
        (["a", "list"], "data"),
    ],
)
def test_config_deployed_schema_names_the_failing_field_path(data, path):
    assert path in errors_of(DEPLOYED, data)


def test_config_deployed_needs_only_the_environment_slug_and_an_application_id_or_slug():
    events.validate_data(
        DEPLOYED,
        {"config": {"application_ref": {"slug": "bot"}, "environment_ref": {"slug": "staging"}}},
    )
    events.validate_data(
        DEPLOYED, {"config": {"application_ref": {"id": "a1"}, "environment_ref": {"slug": "s"}}}
    )


def test_config_deployed_accepts_fields_agenta_may_add():
    data = deploy_data(new_agenta_field={"anything": [1, 2]}, service_lifecycle=None)
    data["config"]["environment_ref"]["extra"] = True
    data["rollout"] = "canary"
    events.validate_data(DEPLOYED, data)


def test_unknown_and_test_types_are_refused_with_the_known_types():
    for name in ("config.deploy", "webhook.test"):
        with pytest.raises(ValidationError) as caught:
            events.emittable(name)
        message = caught.value.detail["type"][0]
        assert name in message
        assert all(known in message for known in events.emittable_types())
        assert "webhook.test" not in message.split("known types:")[1]


def test_scope_reads_the_config_or_top_level_references():
    assert events.scope(DEPLOYED.example) == (
        "0192a45d-5ba1-757e-a983-787a66a4e78d",
        "support-bot",
        "production",
    )
    assert events.scope({"application_ref": {"slug": "bot"}}) == ("", "bot", "")
    assert events.scope({"evaluation": {"id": "e"}}) == ("", "", "")


def test_envelope_is_compact_utf8_json_in_the_emitters_key_order():
    data = {"z": 1, "a": {"é": "日本語", "b": None}}
    body = events.render_envelope(
        uuid.UUID(int=1),
        "config.deployed",
        uuid.UUID(int=2),
        datetime(2025, 1, 2, tzinfo=UTC),
        data,
    )
    assert body == (
        '{"id":"00000000-0000-0000-0000-000000000001","type":"config.deployed",'
        '"timestamp":"2025-01-02T00:00:00.000Z","project_id":"00000000-0000-0000-0000-000000000002",'
        '"data":{"z":1,"a":{"é":"日本語","b":null}}}'
    )
    assert json.loads(body)["data"] == data


def test_timestamps_are_utc_with_milliseconds():
    paris = timezone(timedelta(hours=2))
    moment = datetime(2025, 6, 2, 11, 30, 5, 123456, tzinfo=paris)
    assert events.format_timestamp(moment) == "2025-06-02T09:30:05.123Z"
    assert events.format_timestamp(datetime(2025, 6, 2, 9, 30)) == "2025-06-02T09:30:00.000Z"


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", [["webhooks:read"], ["events:emit"], ["webhooks:write"]])
def test_event_types_are_served_to_any_key(make_key_client, scopes):
    client = make_key_client(uuid.uuid4(), scopes)

    response = client.get("/api/event-types")

    assert response.status_code == 200
    served = {item["type"]: item for item in response.json()}
    assert list(served) == list(events.EVENT_TYPES)
    deployed = served["config.deployed"]
    assert deployed["emittable"] is True
    assert served["webhook.test"]["emittable"] is False
    assert deployed["example"] == events.example_envelope("config.deployed")
    assert deployed["schema"] == DEPLOYED.schema  # the very document emits are checked against
    config = deployed["schema"]["properties"]["config"]
    assert deployed["schema"]["required"] == ["config"]
    assert config["required"] == ["application_ref", "environment_ref"]
    assert config["properties"]["environment_ref"]["required"] == ["slug"]
    assert config["properties"]["variant_ref"]["type"] == ["object", "null"]


@pytest.mark.django_db
def test_event_types_need_a_caller(service_client):
    assert APIClient().get("/api/event-types").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="ApiKey ak_nope.nope")
    assert bad.get("/api/event-types").status_code == 401
    assert service_client.get("/api/event-types").status_code == 200


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (deploy_data(environment_ref={"id": "x"}), "data.config.environment_ref.slug", "required"),
        (deploy_data(environment_ref={"slug": "  "}), "data.config.environment_ref.slug", "blank"),
        (deploy_data(environment_ref=None), "data.config.environment_ref", "not be null"),
        (deploy_data(application_ref={"slug": ""}), "data.config.application_ref", "id or a slug"),
        (deploy_data(variant_ref={"version": "3"}), "data.config.variant_ref.version", "integer"),
        (deploy_data(params=[]), "data.config.params", "Expected an object."),
        (deploy_data(url=5), "data.config.url", "Expected a string."),
        (
            deploy_data(environment_ref={"slug": "p" * 256}),
            "data.config.environment_ref.slug",
            "no more than 255 characters",
        ),
        (
            deploy_data(variant_lifecycle={"created_at": "yesterday"}),
            "data.config.variant_lifecycle.created_at",
            "ISO 8601",
        ),
        (["a", "list"], "data", "Expected an object."),
    ],
)
def test_each_failing_field_gets_a_message_a_person_can_act_on(data, path, message):
    errors = errors_of(DEPLOYED, data)

    assert list(errors) == [path]
    assert message in " ".join(errors[path])


def test_lifecycle_times_are_iso_8601_with_or_without_an_offset():
    for moment in ("2025-06-02T09:29:58Z", "2025-06-02T09:29:58.12+02:00", "2025-06-02 09:29"):
        events.validate_data(DEPLOYED, deploy_data(variant_lifecycle={"updated_at": moment}))


@pytest.mark.parametrize("name", events.subscribable_types())
def test_each_schema_is_a_json_schema_a_receiver_can_use(name):
    event_type = events.EVENT_TYPES[name]
    validator = jsonschema.Draft202012Validator(
        event_type.schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    validator.check_schema(event_type.schema)
    assert event_type.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator.validate(event_type.example)


def test_the_catalogue_imports_no_serializer_nor_model():
    code = (
        "import sys, webhooks.events; "
        "print(sorted(m for m in sys.modules if m.startswith('webhooks.')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )

    loaded = result.stdout.strip()
    expected = [
        "webhooks.event_schemas",
        "webhooks.event_validation",
        "webhooks.events",
        "webhooks.operator_events",
    ]
    assert loaded == str(expected), result.stderr
