"""Emitting events: fan-out, idempotency, bad input, the stored envelope, and the events API."""

import copy
import json
import threading
import uuid
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.conftest import SERVICE_KEY
from tests.factories import EventFactory, WebhookFactory
from webhooks import events
from webhooks.engine import wakeups
from webhooks.engine.lanes import deliver
from webhooks.exceptions import IdempotencyKeyReused
from webhooks.models import Delivery, Event
from webhooks.services import emit_webhook_event
from webhooks.services.emit import PayloadTooLarge

APP_ID = "0192a45d-5ba1-757e-a983-787a66a4e78d"  # the example config's application


def deploy_data(environment: str = "production", **application_ref) -> dict:
    data = copy.deepcopy(events.EVENT_TYPES["config.deployed"].example)
    data["config"]["environment_ref"]["slug"] = environment
    data["config"]["application_ref"].update(application_ref)
    return data


def emit(client, project_id, data=None, event_type="config.deployed", key=None, **extra):
    body = {"type": event_type, "data": deploy_data() if data is None else data, **extra}
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(f"/api/projects/{project_id}/events", body, format="json", **headers)


def written() -> tuple[int, int]:
    return Event.objects.count(), Delivery.objects.count()


# Fan-out


@pytest.mark.django_db
def test_a_deploy_fans_out_to_exactly_the_matching_webhooks(service_client):
    project = uuid.uuid4()

    def hook(event_types=("config.deployed",), **fields):
        return WebhookFactory(project_id=project, event_types=list(event_types), **fields)

    matching = [
        hook(),
        hook(["*"]),
        hook(["config.committed", "config.deployed"]),
        hook(filters={"applications": ["support-bot"]}),
        hook(filters={"applications": [APP_ID.upper()]}),
        hook(filters={"environments": ["production", "staging"]}),
        hook(filters={"applications": ["other", APP_ID], "environments": ["production"]}),
        hook(filters={"applications": [], "environments": []}),
    ]
    hook(["config.committed"])
    hook(["variant.created", "evaluation.completed"])
    hook(filters={"applications": ["other-app"]})
    hook(filters={"environments": ["staging"]})
    hook(filters={"applications": ["support-bot"], "environments": ["development"]})
    hook(is_active=False)
    hook(deleted_at=timezone.now())
    WebhookFactory(event_types=["*"])  # another project

    response = emit(service_client, project)

    assert response.status_code == 202
    assert response.json() == {
        "id": response.json()["id"],
        "type": "config.deployed",
        "deliveries": len(matching),
    }
    deliveries = Delivery.objects.filter(event_id=response.json()["id"])
    assert {d.webhook_id for d in deliveries} == {w.id for w in matching}
    assert {(d.status, d.trigger, d.attempt_count) for d in deliveries} == {("pending", "auto", 0)}
    assert all(d.next_attempt_at <= timezone.now() for d in deliveries)


@pytest.mark.django_db
def test_events_of_other_types_and_places_reach_their_own_subscribers(service_client):
    project = uuid.uuid4()
    committed = WebhookFactory(project_id=project, event_types=["config.committed"])
    staging = WebhookFactory(project_id=project, filters={"environments": ["staging"]})
    WebhookFactory(project_id=project, filters={"environments": ["production"]})
    by_slug = WebhookFactory(project_id=project, filters={"applications": ["bot-2"]})
    commit = copy.deepcopy(events.EVENT_TYPES["config.committed"].example)

    assert emit(service_client, project, commit, "config.committed").json()["deliveries"] == 1
    response = emit(service_client, project, deploy_data("staging"))
    other_app = emit(service_client, project, deploy_data("development", id=None, slug="bot-2"))

    assert Delivery.objects.get(event__type="config.committed").webhook == committed
    assert Delivery.objects.get(event_id=response.json()["id"]).webhook == staging
    assert Delivery.objects.filter(event_id=other_app.json()["id"]).get().webhook == by_slug


@pytest.mark.django_db
def test_an_event_nobody_subscribes_to_is_still_recorded(service_client):
    project = uuid.uuid4()

    response = emit(service_client, project)

    assert response.status_code == 202
    assert response.json()["deliveries"] == 0
    event = Event.objects.get(id=response.json()["id"])
    assert (event.application_id, event.application_slug, event.environment) == (
        APP_ID,
        "support-bot",
        "production",
    )


@pytest.mark.django_db
def test_fan_out_costs_the_same_queries_for_1_and_50_webhooks(service_client):
    small, large = uuid.uuid4(), uuid.uuid4()
    WebhookFactory(project_id=small)
    WebhookFactory.create_batch(50, project_id=large)

    with CaptureQueriesContext(connection) as one:
        assert emit(service_client, small).json()["deliveries"] == 1
    with CaptureQueriesContext(connection) as fifty:
        assert emit(service_client, large).json()["deliveries"] == 50

    assert len(one) == len(fifty)
    # Matching reads no secret, so none is decrypted.
    assert not any('"webhooks_webhook"."secret"' in q["sql"] for q in fifty.captured_queries)


@pytest.mark.django_db
def test_each_matching_webhook_is_woken_from_inside_the_writing_transaction(monkeypatch):
    project = uuid.uuid4()
    hooks = WebhookFactory.create_batch(3, project_id=project)
    woken = []
    monkeypatch.setattr(
        wakeups,
        "wake_after_commit",
        lambda ids: woken.append((list(ids), connection.in_atomic_block)),
    )

    event = emit_webhook_event(project, "config.deployed", deploy_data())

    ((ids, in_transaction),) = woken
    assert in_transaction  # on_commit: once the deliveries are there for the lanes to claim
    assert sorted(ids) == sorted(h.id for h in hooks)
    assert event.created and event.delivery_count == len(hooks)


@pytest.mark.django_db
def test_nothing_is_half_written_when_the_fan_out_fails(monkeypatch):
    project = uuid.uuid4()
    WebhookFactory.create_batch(2, project_id=project)

    def broken(ids):
        raise RuntimeError("queue exploded")

    monkeypatch.setattr(wakeups, "wake_after_commit", broken)

    with pytest.raises(RuntimeError):
        emit_webhook_event(project, "config.deployed", deploy_data())

    assert written() == (0, 0)


# Idempotency


@pytest.mark.django_db
def test_the_same_idempotency_key_answers_200_with_the_same_event(service_client):
    project = uuid.uuid4()
    WebhookFactory.create_batch(2, project_id=project)
    reordered = deploy_data()
    reordered["config"] = dict(reversed(reordered["config"].items()))

    first = emit(service_client, project, key="deploy:env-rev-42")
    again = emit(service_client, project, key="deploy:env-rev-42")
    same_content = emit(service_client, project, reordered, key="deploy:env-rev-42")

    assert first.status_code == 202
    assert (again.status_code, same_content.status_code) == (200, 200)
    assert again.json() == same_content.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert written() == (1, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "event_type"),
    [
        (deploy_data("staging"), "config.deployed"),
        (copy.deepcopy(events.EVENT_TYPES["config.committed"].example), "config.committed"),
    ],
)
def test_a_key_reused_with_other_content_answers_409_naming_the_first_event(
    service_client, data, event_type
):
    project = uuid.uuid4()
    WebhookFactory(project_id=project, event_types=["*"])
    first = emit(service_client, project, key="deploy:env-rev-42").json()["id"]

    reused = emit(service_client, project, data, event_type, key="deploy:env-rev-42")

    assert reused.status_code == 409
    assert reused.json() == {"detail": IdempotencyKeyReused.message, "event_id": first}
    assert written() == (1, 1)
    with pytest.raises(IdempotencyKeyReused) as caught:
        emit_webhook_event(project, event_type, data, "deploy:env-rev-42")
    assert str(caught.value.event_id) == first


@pytest.mark.django_db
def test_events_stored_without_a_content_hash_still_replay(service_client):
    project = uuid.uuid4()
    earlier = EventFactory(project_id=project, idempotency_key="old-key", content_hash="")

    response = emit(service_client, project, key="old-key")

    assert (response.status_code, response.json()["id"]) == (200, str(earlier.id))


@pytest.mark.django_db(transaction=True)
def test_a_non_ascii_idempotency_key_is_stored_as_sent(live_server):
    project = uuid.uuid4()
    url = f"{live_server.url}/api/projects/{project}/events"
    body = {"type": "config.deployed", "data": deploy_data()}
    auth = {"Authorization": f"Access {SERVICE_KEY}"}

    def post(key: bytes):
        return requests.post(url, json=body, headers=auth | {"Idempotency-Key": key}, timeout=10)

    first, again = post("déploiement ☕".encode()), post("déploiement ☕".encode())
    latin1 = post("déploiement".encode("latin-1"))  # not UTF-8

    assert (first.status_code, again.status_code) == (202, 200)
    assert Event.objects.get().idempotency_key == "déploiement ☕"
    assert (latin1.status_code, list(latin1.json())) == (400, ["idempotency_key"])
    listed = requests.get(
        url, params={"idempotency_key": "déploiement ☕"}, headers=auth, timeout=10
    )
    assert [e["id"] for e in listed.json()["results"]] == [first.json()["id"]]


@pytest.mark.django_db
def test_idempotency_keys_are_per_project_and_absent_keys_never_collide(service_client):
    project = uuid.uuid4()

    emit(service_client, project, key="k")
    other = emit(service_client, uuid.uuid4(), key="k")
    emit(service_client, project)
    emit(service_client, project)

    assert other.status_code == 202
    assert Event.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_emits_with_one_key_create_one_event():
    project = uuid.uuid4()
    WebhookFactory.create_batch(3, project_id=project)
    start = threading.Barrier(10)
    answers, errors = [], []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Access {SERVICE_KEY}")
        try:
            start.wait(timeout=10)
            response = emit(client, project, key="deploy:race")
            answers.append((response.status_code, response.json()["id"]))
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(code for code, _ in answers) == [200] * 9 + [202]
    assert len({event_id for _, event_id in answers}) == 1
    assert written() == (1, 3)


# Bad input


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        ({"type": "config.deploy", "data": {}}, "json", "type"),
        ({"type": "webhook.test", "data": {}}, "json", "type"),
        ({"data": deploy_data()}, "json", "type"),
        ({"type": "config.deployed"}, "json", "data"),
        ({"type": "config.deployed", "data": None}, "json", "data"),
        ({"type": "config.deployed", "data": [1]}, "json", "data"),
        (
            {"type": "config.deployed", "data": deploy_data(), "occurred_at": "soon"},
            "json",
            "occurred_at",
        ),
        (
            {"type": "config.deployed", "data": {"config": {}}},
            "json",
            "data.config.application_ref",
        ),
        ('{"type": "config.deployed", "data": ', "application/json", "detail"),
        ("type=config.deployed", "application/x-www-form-urlencoded", "detail"),
        ("not json at all", "text/plain", "detail"),
        (b"\xff\xfe{}", "application/json", "detail"),
        ('["type", "config.deployed"]', "application/json", "non_field_errors"),
        ('{"type": "config.deployed", "data": {"x": NaN}}', "application/json", "detail"),
    ],
)
def test_bad_input_answers_400_naming_the_problem_and_writes_nothing(
    service_client, body, content_type, field
):
    project = uuid.uuid4()
    WebhookFactory(project_id=project, event_types=["*"])
    url = f"/api/projects/{project}/events"

    if content_type == "json":
        response = service_client.post(url, body, format="json")
    else:
        response = service_client.post(url, body, content_type=content_type)

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()
    assert written() == (0, 0)


@pytest.mark.django_db
def test_unknown_type_lists_the_known_types(service_client):
    response = emit(service_client, uuid.uuid4(), event_type="deploy")

    message = response.json()["type"][0]
    assert response.status_code == 400
    assert all(name in message for name in events.emittable_types())


@pytest.mark.django_db
def test_schema_errors_name_every_failing_field_path(service_client):
    data = deploy_data()
    del data["config"]["environment_ref"]["slug"]
    data["config"]["application_ref"] = {"version": 2}
    data["config"]["params"] = "not an object"

    response = emit(service_client, uuid.uuid4(), data)

    assert response.status_code == 400
    assert set(response.json()) == {
        "data.config.environment_ref.slug",
        "data.config.application_ref",
        "data.config.params",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("length", "status"), [(255, 202), (256, 400), (0, 400)])
def test_idempotency_keys_hold_at_most_255_characters(service_client, length, status):
    response = emit(service_client, uuid.uuid4(), key="k" * length)

    assert response.status_code == status
    assert Event.objects.count() == (1 if status == 202 else 0)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["type", "environment", "application", "idempotency_key"])
def test_a_nul_in_a_list_filter_answers_400_naming_it(service_client, name):
    response = service_client.get(f"/api/projects/{uuid.uuid4()}/events", {name: "a\x00b"})

    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reference", "key"),
    [("environment_ref", "slug"), ("application_ref", "slug"), ("application_ref", "id")],
)
def test_a_nul_where_the_event_is_filtered_on_answers_400_naming_it(service_client, reference, key):
    data = deploy_data()
    data["config"][reference][key] = "prod\x00"

    response = emit(service_client, uuid.uuid4(), data)

    assert response.status_code == 400
    assert f"data.config.{reference}.{key}" in response.json()
    assert written() == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["prod\x00", "p" * 256])
def test_an_undeclared_reference_that_filters_match_is_checked_too(service_client, slug):
    data = copy.deepcopy(events.EVENT_TYPES["variant.created"].example)
    data["environment_ref"] = {"slug": slug}  # an extra field: the schema allows it

    response = emit(service_client, uuid.uuid4(), data, "variant.created")

    assert response.status_code == 400
    assert list(response.json()) == ["data.environment_ref.slug"]
    assert written() == (0, 0)


@pytest.mark.django_db
def test_a_nul_elsewhere_in_the_data_is_stored_and_sent_escaped(service_client):
    data = deploy_data()
    data["config"]["params"]["note"] = "a\x00b"

    response = emit(service_client, uuid.uuid4(), data)

    assert response.status_code == 202
    body = Event.objects.get(id=response.json()["id"]).body
    assert '"note":"a\\u0000b"' in body
    assert json.loads(body)["data"] == data


@pytest.mark.django_db
def test_a_nul_in_the_idempotency_key_answers_400(service_client):
    response = emit(service_client, uuid.uuid4(), key="deploy\x00")

    assert (response.status_code, list(response.json())) == (400, ["idempotency_key"])
    with pytest.raises(ValidationError):
        emit_webhook_event(uuid.uuid4(), "config.deployed", deploy_data(), "deploy\x00")
    assert written() == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/projects/%00/events", f"/api/projects/{uuid.uuid4()}/events/%00"]
)
def test_a_nul_in_a_path_is_not_found(service_client, path):
    assert service_client.get(path).status_code == 404
    assert service_client.post(path, {}, format="json").status_code == 404


@pytest.mark.django_db
def test_a_body_over_the_default_256_kib_answers_413(service_client):
    project = uuid.uuid4()
    WebhookFactory(project_id=project)
    data = deploy_data()
    data["config"]["params"]["blob"] = "x" * (256 * 1024)

    response = emit(service_client, project, data)

    assert response.status_code == 413
    assert "262144" in response.json()["detail"]
    assert written() == (0, 0)


@pytest.mark.django_db
def test_the_payload_limit_is_a_setting_and_also_bounds_in_process_emits(service_client, settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "MAX_PAYLOAD_BYTES": 4096}
    project = uuid.uuid4()
    small, large = deploy_data(), deploy_data()
    large["config"]["params"]["blob"] = "é" * 2000  # 4000 bytes of UTF-8

    assert emit(service_client, project, small).status_code == 202
    assert emit(service_client, project, large).status_code == 413
    with pytest.raises(PayloadTooLarge):
        emit_webhook_event(project, "config.deployed", large)
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_a_lone_surrogate_in_the_data_answers_400(service_client):
    data = json.dumps(deploy_data()).replace('"You answer', '"\\ud800 You answer')
    body = '{"type":"config.deployed","data":' + data + "}"

    response = service_client.post(
        f"/api/projects/{uuid.uuid4()}/events", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "data" in response.json()
    assert written() == (0, 0)


# The stored envelope


@pytest.mark.django_db
def test_the_stored_body_is_the_compact_envelope_with_the_data_as_emitted(service_client):
    project = uuid.uuid4()
    data = deploy_data()
    data["config"]["params"]["note"] = "Réponds en français ☕"
    data["config"]["future_agenta_field"] = {"z": 1, "a": [True, None]}

    response = emit(service_client, project, data, occurred_at="2025-06-02T11:30:00.5+02:00")

    event = Event.objects.get(id=response.json()["id"])
    envelope = json.loads(event.body)
    assert envelope == {
        "id": str(event.id),
        "type": "config.deployed",
        "timestamp": "2025-06-02T09:30:00.500Z",
        "project_id": str(project),
        "data": data,
    }
    assert list(envelope["data"]["config"]) == list(data["config"])  # Agenta's key order
    assert event.body == json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    assert "Réponds en français ☕" in event.body


@pytest.mark.django_db
def test_without_occurred_at_the_timestamp_is_the_emit_time(service_client):
    before = timezone.now()

    response = emit(service_client, uuid.uuid4())

    stamp = json.loads(Event.objects.get(id=response.json()["id"]).body)["timestamp"]
    assert stamp.endswith("Z")
    sent = timezone.datetime.fromisoformat(stamp)
    assert before - timedelta(seconds=1) <= sent <= timezone.now()


@pytest.mark.django_db
def test_in_process_callers_may_pass_uuids_and_datetimes():
    project, user = uuid.uuid4(), uuid.uuid4()
    data = deploy_data(id=uuid.UUID(APP_ID))
    data["deployed_by"] = user
    data["config"]["environment_lifecycle"]["created_at"] = timezone.now()

    event = emit_webhook_event(str(project), "config.deployed", data, idempotency_key="in-proc")

    stored = json.loads(event.body)["data"]
    assert stored["deployed_by"] == str(user)
    assert stored["config"]["application_ref"]["id"] == APP_ID
    assert event.application_id == APP_ID
    assert emit_webhook_event(project, "config.deployed", data, "in-proc").id == event.id


# Who may emit and read


@pytest.mark.django_db
def test_emitting_needs_the_events_emit_scope_on_the_same_project(make_key_client):
    project = uuid.uuid4()
    reader = make_key_client(project, ["webhooks:read", "webhooks:write"])
    emitter = make_key_client(project, ["events:emit"])
    stranger = make_key_client(uuid.uuid4(), ["events:emit"])

    assert emit(reader, project).status_code == 403
    assert emit(stranger, project).status_code == 404
    assert emit(APIClient(), project).status_code == 401
    assert written() == (0, 0)
    assert emit(emitter, project).status_code == 202
    assert emitter.get(f"/api/projects/{project}/events").status_code == 403
    assert reader.get(f"/api/projects/{project}/events").status_code == 200


# Reading events


@pytest.mark.django_db
def test_the_list_shows_the_projects_events_newest_first_with_delivery_counts(service_client):
    project = uuid.uuid4()
    WebhookFactory.create_batch(2, project_id=project)
    first = emit(service_client, project, key="first").json()["id"]
    second = emit(service_client, project, deploy_data("staging")).json()["id"]
    Delivery.objects.filter(event_id=first).order_by("id").first().delete()
    Delivery.objects.filter(event_id=first).update(status="succeeded")
    EventFactory()  # another project's

    response = service_client.get(f"/api/projects/{project}/events")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [second, first]
    assert results[1]["idempotency_key"] == "first"
    assert results[1]["environment"] == "production"
    assert results[1]["delivery_counts"] == {
        "total": 1,
        "pending": 0,
        "delivering": 0,
        "succeeded": 1,
        "failed": 0,
    }
    assert results[0]["delivery_counts"]["pending"] == 2


@pytest.mark.django_db
def test_the_list_filters_and_pages(service_client):
    project = uuid.uuid4()
    url = f"/api/projects/{project}/events"
    deployed = emit(service_client, project, key="k1").json()["id"]
    staging = emit(service_client, project, deploy_data("staging", id="", slug="bot-2")).json()
    committed = copy.deepcopy(events.EVENT_TYPES["config.committed"].example)
    emit(service_client, project, committed, "config.committed")

    def ids(query):
        return [r["id"] for r in service_client.get(url + query).json()["results"]]

    assert ids("?type=config.committed") != [] and len(ids("?type=config.deployed")) == 2
    assert ids("?environment=staging") == [staging["id"]]
    assert ids("?application=bot-2") == [staging["id"]]
    assert ids(f"?application={APP_ID}") == ids("?application=support-bot")
    assert ids("?idempotency_key=k1") == [deployed]
    page = service_client.get(url + "?limit=2").json()
    assert len(page["results"]) == 2
    rest = service_client.get(page["next"]).json()
    assert [r["id"] for r in rest["results"]] == [deployed]
    assert rest["next"] is None


@pytest.mark.django_db
def test_the_detail_shows_each_delivery_with_its_webhook_and_status(service_client):
    project = uuid.uuid4()
    ok, failing = WebhookFactory.create_batch(2, project_id=project)
    event_id = emit(service_client, project).json()["id"]
    Delivery.objects.filter(webhook=ok).update(status="succeeded", last_status_code=200)
    Delivery.objects.filter(webhook=failing).update(status="failed", last_error="HTTP 500")

    response = service_client.get(f"/api/projects/{project}/events/{event_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["payload"] == json.loads(Event.objects.get(id=event_id).body)
    deliveries = {d["webhook"]["id"]: d for d in body["deliveries"]}
    assert deliveries[str(ok.id)]["status"] == "succeeded"
    assert deliveries[str(failing.id)]["last_error"] == "HTTP 500"
    assert deliveries[str(ok.id)]["webhook"]["url"] == ok.url
    assert body["delivery_counts"]["failed"] == 1
    assert ok.secret not in response.content.decode()


@pytest.mark.django_db
def test_an_event_of_another_project_is_not_found(service_client, make_key_client):
    event = EventFactory()
    mine = uuid.uuid4()

    assert service_client.get(f"/api/projects/{mine}/events/{event.id}").status_code == 404
    stranger = make_key_client(mine, ["webhooks:read"])
    url = f"/api/projects/{event.project_id}/events/{event.id}"
    assert stranger.get(url).status_code == 404
    assert service_client.get(url).status_code == 200


# End to end: what the receiver gets


@pytest.mark.django_db
def test_the_receiver_gets_the_stored_body_byte_for_byte_signed(service_client, receiver):
    project = uuid.uuid4()
    hooks = {
        f"/hook/{i}": WebhookFactory(project_id=project, url=receiver.url(f"/hook/{i}"))
        for i in range(2)
    }
    data = deploy_data()
    data["config"]["params"]["note"] = "naïve ✓"

    response = emit(service_client, project, data, key="deploy:e2e")
    event = Event.objects.get(id=response.json()["id"])
    for delivery in event.deliveries.all():
        deliver(delivery.id, trigger=Delivery.Trigger.AUTO)

    received = receiver.wait_for(2)
    for request in received:
        hook = hooks[request.path]
        assert request.body == event.body.encode("utf-8")
        payload = StandardWebhook(hook.secret).verify(request.body, request.headers)
        assert payload["data"] == data
        assert payload["id"] == str(event.id)
        delivery = event.deliveries.get(webhook=hook)
        assert request.headers["webhook-id"] == str(delivery.id)
        assert request.headers["x-agenta-event"] == "config.deployed"
    assert set(event.deliveries.values_list("status", flat=True)) == {"succeeded"}
