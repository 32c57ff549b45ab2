"""Who may call the API: the service key, project API keys with scopes, staff sessions."""

import hashlib
import uuid
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from tests.factories import WebhookFactory
from webhooks.auth import ServiceOnly
from webhooks.models import ApiKey
from webhooks.services.api_keys import authenticate_api_key, create_api_key, revoke_api_key

pytestmark = pytest.mark.django_db

PROJECT = uuid.UUID("0190f3c2-0000-7000-8000-000000000001")
NEW_WEBHOOK = {"name": "ci", "url": "https://hooks.example.com/ci"}


def _urls(webhook) -> dict[str, str]:
    base = f"/api/projects/{webhook.project_id}/webhooks"
    return {
        "list": base,
        "detail": f"{base}/{webhook.id}",
        "secret": f"{base}/{webhook.id}/secret",
        "regenerate": f"{base}/{webhook.id}/regenerate-secret",
    }


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Access wrong-service-key",
        "Access ",
        "ApiKey ak_000000000000.not-the-secret",
        "ApiKey no-dot-at-all",
        "Bearer test-service-key",
        "access test-service-key-but-longer",
    ],
)
def test_missing_or_bad_credentials_answer_401_with_a_challenge(header):
    response = _client(header).get(f"/api/projects/{PROJECT}/webhooks")
    assert response.status_code == 401
    assert "ApiKey" in response["WWW-Authenticate"]
    assert "Access" in response["WWW-Authenticate"]
    assert set(response.json()) == {"detail"}


def test_revoked_key_answers_401():
    key, plain = create_api_key(PROJECT, "old", ["webhooks:read"])
    assert _client(f"ApiKey {plain}").get(f"/api/projects/{PROJECT}/webhooks").status_code == 200
    revoke_api_key(key)
    response = _client(f"ApiKey {plain}").get(f"/api/projects/{PROJECT}/webhooks")
    assert response.status_code == 401


def test_service_key_may_use_every_project_and_endpoint(service_client):
    webhook = WebhookFactory()
    urls = _urls(webhook)
    assert service_client.get(urls["list"]).status_code == 200
    assert service_client.get(urls["detail"]).status_code == 200
    assert service_client.get(urls["secret"]).status_code == 200
    assert service_client.post(urls["regenerate"], {}, format="json").status_code == 200
    assert service_client.patch(urls["detail"], {"name": "x"}, format="json").status_code == 200
    assert service_client.post(urls["list"], NEW_WEBHOOK, format="json").status_code == 201
    assert service_client.delete(urls["detail"]).status_code == 204


def test_read_scope_reads_but_cannot_change_or_see_the_secret(make_key_client):
    webhook = WebhookFactory(project_id=PROJECT)
    client, urls = make_key_client(PROJECT, ["webhooks:read"]), _urls(webhook)
    assert client.get(urls["list"]).status_code == 200
    assert client.get(urls["detail"]).status_code == 200
    refused = [
        client.get(urls["secret"]),
        client.post(urls["regenerate"], {}, format="json"),
        client.patch(urls["detail"], {"name": "x"}, format="json"),
        client.delete(urls["detail"]),
        client.post(urls["list"], NEW_WEBHOOK, format="json"),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "webhooks:write" in refused[0].json()["detail"]
    webhook.refresh_from_db()
    assert webhook.deleted_at is None and webhook.name != "x"


def test_write_scope_changes_and_reads_the_secret_but_does_not_list(make_key_client):
    webhook = WebhookFactory(project_id=PROJECT)
    client, urls = make_key_client(PROJECT, ["webhooks:write"]), _urls(webhook)
    assert client.get(urls["secret"]).json() == {"secret": webhook.secret}
    assert client.patch(urls["detail"], {"name": "x"}, format="json").status_code == 200
    assert client.post(urls["list"], NEW_WEBHOOK, format="json").status_code == 201
    assert client.post(urls["regenerate"], {}, format="json").status_code == 200
    assert client.delete(urls["detail"]).status_code == 204
    listing = client.get(urls["list"])
    assert listing.status_code == 403
    assert "webhooks:read" in listing.json()["detail"]


def test_emit_only_key_cannot_touch_webhooks(make_key_client):
    webhook = WebhookFactory(project_id=PROJECT)
    client, urls = make_key_client(PROJECT, ["events:emit"]), _urls(webhook)
    assert client.get(urls["list"]).status_code == 403
    assert client.get(urls["detail"]).status_code == 403
    assert client.post(urls["list"], NEW_WEBHOOK, format="json").status_code == 403


def test_staff_session_may_do_what_its_permissions_allow_other_users_may_not():
    # The full matrix of permissions against endpoints is in test_staff_permissions.py.
    webhook = WebhookFactory()
    user_model = get_user_model()
    staff = user_model.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["change_webhook", "delete_webhook"])
    )
    member = user_model.objects.create_user("member", password="pw")
    client = APIClient()
    client.force_login(staff)
    assert client.get(_urls(webhook)["secret"]).status_code == 200
    assert client.delete(_urls(webhook)["detail"]).status_code == 204
    client.force_login(member)
    assert client.get(_urls(webhook)["list"]).status_code == 401


def test_staff_session_writes_need_the_csrf_token():
    webhook = WebhookFactory()
    staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.patch(_urls(webhook)["detail"], {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_service_only_views_refuse_project_keys():
    class Operations(APIView):
        permission_classes = [ServiceOnly]

        def get(self, request):
            return Response({})

    factory, view = APIRequestFactory(), Operations.as_view()
    _, plain = create_api_key(PROJECT, "ci", ["webhooks:read", "webhooks:write"])
    as_key = view(factory.get("/api/admin/x", HTTP_AUTHORIZATION=f"ApiKey {plain}"))
    as_service = view(factory.get("/api/admin/x", HTTP_AUTHORIZATION="Access test-service-key"))
    assert as_key.status_code == 403
    assert as_service.status_code == 200


def test_keys_are_stored_as_prefix_and_sha256_only():
    key, plain = create_api_key(PROJECT, "ci", ["webhooks:read"])
    prefix, secret = plain.split(".", 1)
    stored = ApiKey.objects.get(id=key.id)
    assert stored.prefix == prefix
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(id=key.id).values().get())


def test_a_wrong_secret_with_a_real_prefix_is_refused():
    key, plain = create_api_key(PROJECT, "ci", ["webhooks:read"])
    assert authenticate_api_key(f"{key.prefix}.{'x' * 43}") is None
    assert authenticate_api_key(plain) == key


def test_last_used_at_is_written_at_most_once_a_minute():
    key, plain = create_api_key(PROJECT, "ci", ["webhooks:read"])
    client, url = _client(f"ApiKey {plain}"), f"/api/projects/{PROJECT}/webhooks"
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get(url)
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        client.get(url)
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get(url)
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


def test_create_api_key_command_prints_a_working_key_once():
    out, err = StringIO(), StringIO()
    call_command(
        "webhooks_create_api_key",
        "--project",
        str(PROJECT),
        "--name",
        "ci",
        "--scope",
        "webhooks:read",
        stdout=out,
        stderr=err,
    )
    plain = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert plain.startswith(key.prefix + ".")
    assert key.scopes == ["webhooks:read"] and key.project_id == PROJECT
    assert "not shown again" in err.getvalue() and plain not in err.getvalue()
    client = _client(f"ApiKey {plain}")
    assert client.get(f"/api/projects/{PROJECT}/webhooks").status_code == 200
    assert client.post(f"/api/projects/{PROJECT}/webhooks", NEW_WEBHOOK).status_code == 403


def test_create_api_key_command_defaults_to_read_and_write_and_checks_its_input():
    call_command(
        "webhooks_create_api_key",
        "--project",
        str(PROJECT),
        "--name",
        "ci",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert ApiKey.objects.get().scopes == ["webhooks:read", "webhooks:write"]
    with pytest.raises(CommandError):
        call_command("webhooks_create_api_key", "--project", "nope", "--name", "ci")
    with pytest.raises(CommandError):
        call_command(
            "webhooks_create_api_key", "--project", str(PROJECT), "--name", "x", "--scope", "admin"
        )


def test_revoke_api_key_command_stops_the_key():
    key, plain = create_api_key(PROJECT, "ci", ["webhooks:read"])
    out = StringIO()
    call_command("webhooks_revoke_api_key", key.prefix, stdout=out)
    assert "Revoked" in out.getvalue()
    assert _client(f"ApiKey {plain}").get(f"/api/projects/{PROJECT}/webhooks").status_code == 401
    call_command("webhooks_revoke_api_key", plain, stdout=out)
    assert "already revoked" in out.getvalue()
    with pytest.raises(CommandError, match="No API key"):
        call_command("webhooks_revoke_api_key", "ak_unknown")
