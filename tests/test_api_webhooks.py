"""The webhook management API: CRUD round-trips, secret visibility, rotation, isolation."""

import base64
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import WebhookFactory
from webhooks.models import Webhook
from webhooks.signing import sign_headers

pytestmark = pytest.mark.django_db

PROJECT_A = uuid.UUID("0190f3c2-0000-7000-8000-00000000000a")
PROJECT_B = uuid.UUID("0190f3c2-0000-7000-8000-00000000000b")
FIELDS = {
    "id",
    "project_id",
    "name",
    "description",
    "url",
    "event_types",
    "filters",
    "headers",
    "is_active",
    "max_in_flight",
    "signature_schemes",
    "public_key",
    "secret_status",
    "undecryptable_fields",
    "disabled_reason",
    "disabled_at",
    "consecutive_failures",
    "circuit_open_since",
    "created_at",
    "updated_at",
}


def _list_url(project_id) -> str:
    return f"/api/projects/{project_id}/webhooks"


def _url(webhook, suffix: str = "") -> str:
    return f"{_list_url(webhook.project_id)}/{webhook.id}{suffix}"


@pytest.fixture
def client(make_key_client):
    return make_key_client(PROJECT_A)


def test_create_answers_the_webhook_with_its_secret_and_defaults(client):
    response = client.post(
        _list_url(PROJECT_A),
        {"name": "Deploys", "url": "https://hooks.example.com/agenta"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS | {"secret"}
    assert body["project_id"] == str(PROJECT_A)
    assert body["event_types"] == ["config.deployed"]
    assert body["filters"] == {"applications": [], "environments": []}
    assert body["headers"] == {}
    assert body["is_active"] is True and body["disabled_at"] is None
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"), validate=True)) == 32
    assert Webhook.objects.get(id=body["id"]).secret == body["secret"]


def test_secret_never_appears_in_list_or_detail_but_is_readable_at_secret(client):
    created = client.post(
        _list_url(PROJECT_A), {"name": "a", "url": "https://a.example.com/"}, format="json"
    ).json()
    webhook = Webhook.objects.get(id=created["id"])
    listing = client.get(_list_url(PROJECT_A))
    detail = client.get(_url(webhook))
    for payload in (listing.content, detail.content):
        assert created["secret"].encode() not in payload
        assert b"whsec_" not in payload
    assert set(detail.json()) == FIELDS
    assert client.get(_url(webhook, "/secret")).json() == {"secret": created["secret"]}


def test_full_round_trip_create_read_patch_delete(client):
    payload = {
        "name": "Prod deploys",
        "description": "Tell the release bot",
        "url": "https://hooks.example.com/release",
        "event_types": ["config.deployed", "config.committed"],
        "filters": {"applications": ["support-bot"], "environments": ["production"]},
        "headers": {"Authorization": "Bearer abc", "X-Team": "ml"},
        "is_active": True,
    }
    created = client.post(_list_url(PROJECT_A), payload, format="json").json()
    webhook = Webhook.objects.get(id=created["id"])
    shown = client.get(_url(webhook)).json()
    # The bearer token is stored (encrypted) and sent, but never shown back.
    assert {key: shown[key] for key in payload} == {
        **payload,
        "headers": {"Authorization": "[redacted]", "X-Team": "ml"},
    }
    assert webhook.headers == payload["headers"]

    changed = client.patch(
        _url(webhook),
        {"name": "Renamed", "event_types": ["*"], "headers": {"X-Team": "infra"}},
        format="json",
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["name"] == "Renamed" and body["event_types"] == ["*"]
    assert body["headers"] == {"X-Team": "infra"}
    assert body["url"] == payload["url"] and body["filters"] == payload["filters"]
    assert body["updated_at"] > shown["updated_at"]
    assert client.get(_url(webhook)).json() == body

    assert client.delete(_url(webhook)).status_code == 204
    for response in (
        client.get(_url(webhook)),
        client.patch(_url(webhook), {"name": "zombie"}, format="json"),
        client.delete(_url(webhook)),
        client.get(_url(webhook, "/secret")),
        client.post(_url(webhook, "/regenerate-secret"), {}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    assert client.get(_list_url(PROJECT_A)).json()["results"] == []
    # The row stays (its delivery history too), inactive and marked deleted.
    webhook.refresh_from_db()
    assert webhook.deleted_at is not None and webhook.is_active is False
    assert webhook.name == "Renamed"


def test_disabling_and_re_enabling_tracks_why_and_when(client):
    webhook = WebhookFactory(project_id=PROJECT_A, failing_since=timezone.now())
    disabled = client.patch(_url(webhook), {"is_active": False}, format="json").json()
    assert disabled["is_active"] is False
    assert disabled["disabled_at"] is not None and disabled["disabled_reason"]
    enabled = client.patch(_url(webhook), {"is_active": True}, format="json").json()
    assert enabled["is_active"] is True
    assert enabled["disabled_at"] is None and enabled["disabled_reason"] == ""
    webhook.refresh_from_db()
    assert webhook.failing_since is None


def test_list_is_newest_first_with_cursor_pages(client):
    hooks = [WebhookFactory(project_id=PROJECT_A, name=f"hook {i}") for i in range(5)]
    WebhookFactory(project_id=PROJECT_B)
    first = client.get(_list_url(PROJECT_A), {"limit": 2}).json()
    assert [h["name"] for h in first["results"]] == ["hook 4", "hook 3"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [h["name"] for h in second["results"]] == ["hook 2", "hook 1"]
    third = client.get(second["next"]).json()
    assert [h["name"] for h in third["results"]] == ["hook 0"]
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [h["name"] for h in back["results"]] == ["hook 2", "hook 1"]
    assert len(hooks) == 5


def test_list_filters_on_is_active_and_event_type(client):
    deployed = WebhookFactory(project_id=PROJECT_A, event_types=["config.deployed"])
    committed = WebhookFactory(project_id=PROJECT_A, event_types=["config.committed"])
    everything = WebhookFactory(project_id=PROJECT_A, event_types=["*"], is_active=False)

    def names(**params):
        return {h["id"] for h in client.get(_list_url(PROJECT_A), params).json()["results"]}

    assert names(is_active="true") == {str(deployed.id), str(committed.id)}
    assert names(is_active="false") == {str(everything.id)}
    assert names(event_type="config.committed") == {str(committed.id), str(everything.id)}
    assert names(event_type="config.deployed", is_active="true") == {str(deployed.id)}
    assert names() == {str(deployed.id), str(committed.id), str(everything.id)}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"is_active": "maybe"}, "is_active"), ({"cursor": "not-a-cursor"}, "cursor")],
)
def test_bad_list_parameters_answer_400(client, params, field):
    WebhookFactory(project_id=PROJECT_A)
    response = client.get(_list_url(PROJECT_A), params)
    assert response.status_code == 400
    assert field in response.json()


def test_forged_cursor_position_answers_400_not_500(client):
    forged = base64.b64encode(b"p=not-a-uuid").decode()
    response = client.get(_list_url(PROJECT_A), {"cursor": forged})
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_regenerate_answers_a_new_secret_once_and_keeps_the_old_one_for_the_grace(client):
    webhook = WebhookFactory(project_id=PROJECT_A)
    old = webhook.secret
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        response = client.post(
            _url(webhook, "/regenerate-secret"), {"grace_period_seconds": 3600}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"secret", "previous_secret_expires_at", "cleared"}
    assert body["cleared"] == []
    assert body["secret"].startswith("whsec_") and body["secret"] != old
    assert body["previous_secret_expires_at"] == (now + timedelta(hours=1)).isoformat().replace(
        "+00:00", "Z"
    )
    assert client.get(_url(webhook, "/secret")).json() == {"secret": body["secret"]}
    assert body["secret"].encode() not in client.get(_url(webhook)).content

    # A receiver holding either secret verifies deliveries during the grace period.
    webhook.refresh_from_db()
    payload = '{"type":"config.deployed"}'
    headers = sign_headers(webhook.signing_secrets(now), "msg_1", payload)
    for secret in (old, body["secret"]):
        StandardWebhook(secret).verify(payload, headers)
    later = now + timedelta(hours=1, seconds=1)
    assert webhook.signing_secrets(later) == [body["secret"]]


def test_regenerate_defaults_to_a_day_of_grace_and_zero_ends_the_old_secret_now(client):
    webhook = WebhookFactory(project_id=PROJECT_A)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        default = client.post(_url(webhook, "/regenerate-secret"), format="json").json()
    assert default["previous_secret_expires_at"] == (now + timedelta(days=1)).isoformat().replace(
        "+00:00", "Z"
    )
    immediate = client.post(
        _url(webhook, "/regenerate-secret"), {"grace_period_seconds": 0}, format="json"
    ).json()
    assert immediate["previous_secret_expires_at"] is None
    webhook.refresh_from_db()
    assert webhook.signing_secrets(timezone.now()) == [immediate["secret"]]


@pytest.mark.parametrize(
    "body",
    [
        {"grace_period_seconds": -1},
        {"grace_period_seconds": 604801},
        {"grace_period_seconds": "soon"},
        {"grace_period_seconds": 10, "also": "this"},
    ],
)
def test_regenerate_refuses_bad_grace_periods_and_keeps_the_secret(client, body):
    webhook = WebhookFactory(project_id=PROJECT_A)
    response = client.post(_url(webhook, "/regenerate-secret"), body, format="json")
    assert response.status_code == 400
    webhook.refresh_from_db()
    assert client.get(_url(webhook, "/secret")).json() == {"secret": webhook.secret}
    assert webhook.previous_secret is None


def test_a_week_of_grace_is_the_most_allowed(client):
    webhook = WebhookFactory(project_id=PROJECT_A)
    response = client.post(
        _url(webhook, "/regenerate-secret"), {"grace_period_seconds": 604800}, format="json"
    )
    assert response.status_code == 200


def test_project_a_key_is_refused_every_endpoint_on_project_b(client):
    other = WebhookFactory(project_id=PROJECT_B, name="theirs")
    secret = other.secret
    attempts = {
        "list": client.get(_list_url(PROJECT_B)),
        "create": client.post(
            _list_url(PROJECT_B), {"name": "x", "url": "https://x.example.com/"}, format="json"
        ),
        "detail": client.get(_url(other)),
        "patch": client.patch(_url(other), {"name": "mine now"}, format="json"),
        "delete": client.delete(_url(other)),
        "secret": client.get(_url(other, "/secret")),
        "regenerate": client.post(_url(other, "/regenerate-secret"), {}, format="json"),
    }
    # B's webhook id under A's URLs does not reach it either.
    under_a = f"{_list_url(PROJECT_A)}/{other.id}"
    attempts |= {
        "detail via A": client.get(under_a),
        "patch via A": client.patch(under_a, {"name": "mine now"}, format="json"),
        "delete via A": client.delete(under_a),
        "secret via A": client.get(f"{under_a}/secret"),
        "regenerate via A": client.post(f"{under_a}/regenerate-secret", {}, format="json"),
    }
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 404)
    assert all(secret.encode() not in r.content for r in attempts.values())
    other.refresh_from_db()
    assert (other.name, other.secret, other.deleted_at) == ("theirs", secret, None)
    assert not Webhook.objects.filter(project_id=PROJECT_B).exclude(id=other.id).exists()


def test_project_id_that_is_not_a_uuid_answers_json_404(client):
    response = client.get("/api/projects/not-a-uuid/webhooks")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_put_is_not_offered(client):
    webhook = WebhookFactory(project_id=PROJECT_A)
    response = client.put(_url(webhook), {"name": "x", "url": webhook.url}, format="json")
    assert response.status_code == 405
    assert "detail" in response.json()


def test_max_in_flight_is_set_on_create_changed_by_patch_and_reset_by_null(client):
    created = client.post(
        _list_url(PROJECT_A),
        {"name": "Slow", "url": "https://hooks.example.com/slow", "max_in_flight": 1},
        format="json",
    ).json()
    assert created["max_in_flight"] == 1
    webhook = Webhook.objects.get(pk=created["id"])
    assert client.patch(_url(webhook), {"max_in_flight": 8}, format="json").status_code == 200
    assert Webhook.objects.get(pk=webhook.pk).max_in_flight == 8  # the project's cap
    answer = client.patch(_url(webhook), {"max_in_flight": None}, format="json").json()
    assert answer["max_in_flight"] is None  # the service's default applies


def test_max_in_flight_above_the_projects_cap_answers_400_naming_the_cap(client, webhooks_settings):
    webhooks_settings(MAX_IN_FLIGHT_PER_PROJECT=6)
    webhook = WebhookFactory(project_id=PROJECT_A, max_in_flight=4)
    response = client.patch(_url(webhook), {"max_in_flight": 7}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["max_in_flight"]
    assert "less than or equal to 6" in message and "capped at 6" in message
    created = client.post(
        _list_url(PROJECT_A),
        {"name": "Greedy", "url": "https://hooks.example.com/greedy", "max_in_flight": 32},
        format="json",
    )
    assert created.status_code == 400 and "max_in_flight" in created.json()
    assert client.patch(_url(webhook), {"max_in_flight": 6}, format="json").status_code == 200


def test_the_circuit_breakers_state_is_shown(client):
    since = timezone.now()
    webhook = WebhookFactory(project_id=PROJECT_A, consecutive_failures=5, circuit_open_since=since)
    shown = client.get(_url(webhook)).json()
    assert shown["consecutive_failures"] == 5
    assert shown["circuit_open_since"] == since.isoformat().replace("+00:00", "Z")
    response = client.patch(_url(webhook), {"circuit_open_since": None}, format="json")
    assert response.status_code == 400  # read-only: only a success closes it


@pytest.mark.parametrize("value", [0, 9, 33, "4", 2.5, True])
def test_a_bad_max_in_flight_answers_400_with_the_field(client, value):
    webhook = WebhookFactory(project_id=PROJECT_A, max_in_flight=4)
    response = client.patch(_url(webhook), {"max_in_flight": value}, format="json")
    assert response.status_code == 400
    assert "max_in_flight" in response.json()
    assert Webhook.objects.get(pk=webhook.pk).max_in_flight == 4
