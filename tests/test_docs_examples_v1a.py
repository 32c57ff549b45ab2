"""docs/examples/v1a/: the public-key examples verify real v1a deliveries, before and after a
key rotation, with nothing but the keys GET .../signing-keys publishes; they reject forgeries.

Like tests/test_docs_examples.py: each example runs as a subprocess on a request the delivery
engine really sent to the `receiver` fixture; Node and Go ones when `node` / `go` are on PATH.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.test_docs_examples import (  # noqa: F401  (fixtures)
    EXAMPLES,
    SUBPROCESS_TIMEOUT_SECONDS,
    needs_go,
    needs_node,
    tool_env,
)
from webhooks import signing
from webhooks.models import Webhook

V1A = EXAMPLES / "v1a"


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="session")
def go_v1a(tmp_path_factory, tool_env):  # noqa: F811
    binary = tmp_path_factory.mktemp("go-v1a") / "verify"
    build = subprocess.run(
        ["go", "build", "-o", str(binary), "verify.go"],
        cwd=V1A,
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert build.returncode == 0, build.stderr
    return [str(binary)]


@pytest.fixture(
    params=[
        pytest.param("verify.py", id="python"),
        pytest.param("verify.js", id="node", marks=needs_node),
        pytest.param("verify.go", id="go", marks=needs_go),
    ]
)
def verify(request, tmp_path, tool_env):  # noqa: F811
    """Return a function running one example: (delivery, public keys) -> (exit status, output)."""
    name = request.param
    if name == "verify.py":
        command = [sys.executable, str(V1A / name)]
    elif name == "verify.js":
        command = ["node", str(V1A / name)]
    else:
        command = request.getfixturevalue("go_v1a")

    def run(delivery: Captured, keys: list[str]) -> tuple[int, str]:
        headers, body = tmp_path / "headers.json", tmp_path / "body.json"
        headers.write_text(json.dumps(delivery.headers))
        body.write_bytes(delivery.body)
        result = subprocess.run(
            [*command, str(headers), str(body)],
            env={**tool_env, "WEBHOOK_PUBLIC_KEYS": " ".join(keys)},
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
        )
        return result.returncode, (result.stdout + result.stderr).strip()

    return run


@pytest.fixture
def v1a(db, receiver, make_key_client):
    """A v1a webhook, its API client, and a function that has one event delivered to it."""
    from webhooks.engine.lanes import deliver

    webhook = WebhookFactory(url=receiver.url(), signature_schemes=["v1a"])
    client = make_key_client(webhook.project_id)
    base = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"

    def capture() -> Captured:
        fresh = Webhook.objects.get(id=webhook.id)
        delivery = DeliveryFactory(webhook=fresh, event=EventFactory(project_id=fresh.project_id))
        seen = len(receiver.requests)
        deliver(delivery.id, trigger="auto")
        got = receiver.wait_for(seen + 1)[seen]
        return Captured(got.headers, got.body)

    def published() -> list[str]:
        answer = client.get(f"{base}/signing-keys")
        assert answer.status_code == 200
        return [key["public_key"] for key in answer.json()["keys"]]

    return webhook, client, base, capture, published


VERIFIED = (0, "verified")


def _rejected(result: tuple[int, str], reason: str) -> bool:
    status, output = result
    return status == 1 and "not verified" in output and reason in output


def test_a_v1a_delivery_verifies_with_the_published_key_only(verify, v1a):
    webhook, _, _, capture, published = v1a
    real = capture()
    keys = published()
    middle = len(real.body) // 2
    tampered = real.body[:middle] + bytes([real.body[middle] ^ 1]) + real.body[middle + 1 :]
    unsigned = {k: v for k, v in real.headers.items() if k != "webhook-signature"}
    stranger = signing.public_key(signing.generate_signing_key())

    assert verify(real, keys) == VERIFIED
    assert _rejected(verify(Captured(real.headers, tampered), keys), "signature")
    assert _rejected(verify(real, [stranger]), "signature")
    assert _rejected(verify(Captured(unsigned, real.body), keys), "header")
    # an HMAC-only delivery carries nothing a public key verifies
    Webhook.objects.filter(id=webhook.id).update(signature_schemes=["v1"])
    assert _rejected(verify(capture(), keys), "signature")


def test_the_old_and_the_new_key_verify_during_a_rotation_and_the_new_one_after(verify, v1a):
    webhook, client, base, capture, published = v1a
    [old] = published()
    assert verify(capture(), [old]) == VERIFIED  # before the rotation

    # when the key is rotated with a grace period
    rotated = client.post(
        f"{base}/rotate-signing-key", {"grace_period_seconds": 3600}, format="json"
    )
    assert rotated.status_code == 200
    new = rotated.json()["public_key"]
    assert published() == [new, old]
    during = capture()
    # then a receiver that still has only the old key, or already only the new one, verifies
    assert verify(during, [old]) == VERIFIED
    assert verify(during, [new]) == VERIFIED

    # when the grace is over, only the new key signs
    Webhook.objects.filter(id=webhook.id).update(
        previous_signing_key_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert published() == [new]
    after = capture()
    assert verify(after, [new]) == VERIFIED
    assert _rejected(verify(after, [old]), "signature")
