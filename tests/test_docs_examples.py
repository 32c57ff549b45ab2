"""docs/receiving-webhooks.md: its verification examples accept real deliveries, reject forgeries.

Each example in docs/examples/ runs as a subprocess on a request that the delivery engine really
sent to the `receiver` fixture. Node and Go examples run when `node` / `go` are on PATH (CI installs
both). The sample delivery the docs replay lives in docs/examples/sample/; when the wire format
changes, rewrite it with: REGENERATE_DOCS_SAMPLE=1 pytest tests/test_docs_examples.py -k sample
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from webhooks.signing import generate_secret

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "receiving-webhooks.md"
EXAMPLES = ROOT / "docs" / "examples"
SAMPLE = EXAMPLES / "sample"
# The sample is captured at a fixed moment with a fixed secret, so the doc's commands stay valid.
SAMPLE_SECRET = "whsec_6Ms+FcPe6vUy9+BgjO80VpOPlbbTccb46NL1nN908sU="
SAMPLE_TIME = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)  # unix 1764000000
SAMPLE_HEADERS = ("content-type", "user-agent", "webhook-", "x-agenta-")
SUBPROCESS_TIMEOUT_SECONDS = 120

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="go is not on PATH")


@dataclass
class Captured:
    """One request as the receiver saw it, and the secret it should verify under."""

    secret: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory) -> dict[str, str]:
    """Return the examples' environment: the venv's python3 first, Go caches in a temp dir."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("WEBHOOK_SECRET", None)
    env.pop("VERIFY_NOW", None)
    # HOME may be read-only in CI; Debian's Go ships a compiled stdlib, so a cold cache is cheap.
    scratch = tmp_path_factory.mktemp("go-home")
    env.update(GOCACHE=str(scratch / "cache"), GOPATH=str(scratch / "path"))
    # Stdlib only: nothing may be downloaded, whatever the Go version.
    env.update(GOPROXY="off", GOTOOLCHAIN="local", GOFLAGS="")
    return env


@pytest.fixture(scope="session")
def go_verify(tmp_path_factory, tool_env) -> list[str]:
    """Build verify.go once per session; return the command that runs it."""
    binary = tmp_path_factory.mktemp("go") / "verify"
    build = subprocess.run(
        ["go", "build", "-o", str(binary), "verify.go"],
        cwd=EXAMPLES,
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert build.returncode == 0, build.stderr
    return [str(binary)]


@pytest.fixture(
    params=[
        pytest.param("verify_standardwebhooks.py", id="python-standardwebhooks"),
        pytest.param("verify_hmac.py", id="python-hmac"),
        pytest.param("verify.js", id="node", marks=needs_node),
        pytest.param("verify.go", id="go", marks=needs_go),
    ]
)
def verify(request, tmp_path, tool_env):
    """Return a function running one example on a delivery: (captured, secret=) -> result."""
    name = request.param
    if name.endswith(".py"):
        command = [sys.executable, str(EXAMPLES / name)]
    elif name.endswith(".js"):
        command = ["node", str(EXAMPLES / name)]
    else:
        command = request.getfixturevalue("go_verify")

    def run(delivery: Captured, secret: str | None = None) -> subprocess.CompletedProcess:
        headers, body = tmp_path / "headers.json", tmp_path / "body.json"
        headers.write_text(json.dumps(delivery.headers))
        body.write_bytes(delivery.body)
        return subprocess.run(
            [*command, str(headers), str(body)],
            env={**tool_env, "WEBHOOK_SECRET": secret or delivery.secret},
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
        )

    return run


@pytest.fixture
def capture(db, receiver):
    """Return a function that has the service deliver one event and returns what arrived."""
    from webhooks.engine.lanes import deliver

    def capture(event=None, **webhook_fields) -> Captured:
        webhook = WebhookFactory(url=receiver.url(), **webhook_fields)
        event = event or EventFactory(project_id=webhook.project_id)
        delivery = DeliveryFactory(webhook=webhook, event=event)
        seen = len(receiver.requests)
        deliver(delivery.id, trigger="auto")
        request = receiver.wait_for(seen + 1)[seen]
        return Captured(webhook.secret, request.headers, request.body)

    return capture


def _assert_verified(result: subprocess.CompletedProcess) -> None:
    assert (result.returncode, result.stdout.strip()) == (0, "verified"), result.stderr


def _assert_rejected(result: subprocess.CompletedProcess, reason: str = "") -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "not verified" in result.stderr
    assert reason.lower() in result.stderr.lower()
    assert "verified" not in result.stdout


def test_example_verifies_a_real_delivery_and_rejects_forgeries(verify, capture):
    # given a request the service really sent
    real = capture()
    middle = len(real.body) // 2
    tampered = real.body[:middle] + bytes([real.body[middle] ^ 1]) + real.body[middle + 1 :]
    reserialized = json.dumps(json.loads(real.body)).encode()  # same JSON, other bytes
    unsigned = {k: v for k, v in real.headers.items() if k != "webhook-signature"}
    assert reserialized != real.body

    # then only the untouched request under the right secret verifies
    _assert_verified(verify(real))
    _assert_rejected(verify(Captured(real.secret, real.headers, tampered)), "signature")
    _assert_rejected(verify(Captured(real.secret, real.headers, reserialized)), "signature")
    _assert_rejected(verify(real, secret=generate_secret()), "signature")
    _assert_rejected(verify(Captured(real.secret, unsigned, real.body)), "header")


def test_example_accepts_a_delivery_up_to_five_minutes_old_and_no_older(verify, capture):
    now = datetime.now(UTC)
    with time_machine.travel(now - timedelta(minutes=4)):
        recent = capture()
    with time_machine.travel(now - timedelta(minutes=6)):
        stale = capture()

    _assert_verified(verify(recent))
    _assert_rejected(verify(stale), "timestamp")


def test_example_accepts_the_old_and_the_new_secret_during_a_rotation(verify, capture):
    old = generate_secret()
    rotated = capture(
        previous_secret=old, previous_secret_expires_at=datetime.now(UTC) + timedelta(hours=1)
    )

    assert len(rotated.headers["webhook-signature"].split(" ")) == 2
    _assert_verified(verify(rotated))
    _assert_verified(verify(rotated, secret=old))
    _assert_rejected(verify(rotated, secret=generate_secret()), "signature")


def _sample_event():
    """Return a config.deployed Event carrying the catalogue's example of Agenta's payload."""
    from webhooks.events import EVENT_TYPES, render_envelope
    from webhooks.ids import uuid7

    event_id, project_id = uuid7(), "0190a000-0000-7000-8000-000000000001"
    data = EVENT_TYPES["config.deployed"].example
    body = render_envelope(event_id, "config.deployed", project_id, SAMPLE_TIME, data)
    return EventFactory(id=event_id, project_id=project_id, body=body)


def _receiver_headers(headers: dict[str, str]) -> dict[str, str]:
    """Return the headers a receiver cares about (not Host, Content-Length, ...)."""
    return {k: v for k, v in sorted(headers.items()) if k.startswith(SAMPLE_HEADERS)}


def test_sample_delivery_matches_what_the_service_sends(capture):
    # given the service delivering a config.deployed event today
    fresh = capture(event=_sample_event())
    if os.environ.get("REGENERATE_DOCS_SAMPLE"):
        with time_machine.travel(SAMPLE_TIME, tick=False):
            sample = capture(event=_sample_event(), secret=SAMPLE_SECRET)
        SAMPLE.mkdir(exist_ok=True)
        headers = json.dumps(_receiver_headers(sample.headers), indent=2) + "\n"
        (SAMPLE / "headers.json").write_text(headers)
        (SAMPLE / "body.json").write_bytes(sample.body)

    # then the docs' sample has the same headers and envelope, stamped at the documented time
    headers = json.loads((SAMPLE / "headers.json").read_text())
    body = json.loads((SAMPLE / "body.json").read_bytes())
    assert set(headers) == set(_receiver_headers(fresh.headers)), "regenerate the sample"
    assert list(body) == list(json.loads(fresh.body)), "regenerate the sample"
    assert headers["webhook-timestamp"] == str(int(SAMPLE_TIME.timestamp()))
    assert headers["webhook-id"] == headers["x-agenta-delivery"]
    assert body["type"] == headers["x-agenta-event"] == "config.deployed"


def _doc_commands() -> list:
    """Return a pytest param (setup, command, expected) for each '# =>' line of the sh blocks."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S):
        setup: list[str] = []
        for line in block.splitlines():
            command, marker, expected = line.partition("  # => ")
            if marker:
                tool = next(word for word in command.split() if "=" not in word)
                case = ("\n".join(setup), command, expected)
                found.append(pytest.param(*case, id=f"{len(found) + 1}-{tool}"))
            else:
                setup.append(line)
    return found


DOC_COMMANDS = _doc_commands()


def test_the_docs_show_runnable_commands_for_every_example():
    commands = " ".join(param.values[1] for param in DOC_COMMANDS)
    for tool in ("python3 verify_hmac.py", "python3 verify_standardwebhooks.py", "node", "go run"):
        assert tool in commands


@pytest.mark.parametrize(("setup", "command", "expected"), DOC_COMMANDS)
def test_each_command_in_the_docs_prints_what_the_docs_say(setup, command, expected, tool_env):
    tool = next(word for word in command.split() if "=" not in word)
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not on PATH")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{setup}\n{command}"],
        cwd=ROOT,
        env=tool_env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
    )
    assert expected in result.stdout + result.stderr
    assert (result.returncode == 0) == (expected == "verified"), result.stderr


def test_a_test_ping_and_a_redelivery_through_the_api_verify(verify, make_key_client, receiver):
    from webhooks.engine.lanes import deliver

    # given a webhook and a key with only the scope the docs name
    webhook = WebhookFactory(url=receiver.url())
    client = make_key_client(webhook.project_id, scopes=("webhooks:write",))
    base = f"/api/projects/{webhook.project_id}/webhooks/{webhook.id}"

    # when the docs' test endpoint pings it, then the ping verifies
    assert client.post(f"{base}/test").status_code == 200
    ping = receiver.wait_for(1)[0]
    assert ping.headers["x-agenta-event"] == "webhook.test"
    _assert_verified(verify(Captured(webhook.secret, ping.headers, ping.body)))

    # when the docs' retry endpoint sends it again, then it keeps its webhook-id and verifies
    delivery_id = ping.headers["webhook-id"]
    assert client.post(f"{base}/deliveries/{delivery_id}/retry").status_code < 300
    deliver(delivery_id)  # what the queued task does
    again = receiver.wait_for(2)[1]
    assert again.headers["webhook-id"] == delivery_id
    _assert_verified(verify(Captured(webhook.secret, again.headers, again.body)))


def test_the_endpoints_the_docs_name_exist():
    from django.urls import resolve

    paths = re.findall(r"`(?:GET|POST) (/api/[^`]+)`", DOC.read_text())
    assert len(paths) >= 3
    for path in paths:
        resolve(re.sub(r"\{\w+\}", "0190a000-0000-7000-8000-000000000001", path))


def test_the_request_shown_in_the_docs_is_the_sample():
    text = DOC.read_text()
    shown = re.search(r"```http\nPOST [^\n]*\n(.*?)```", text, flags=re.S).group(1)
    headers = dict(line.split(": ", 1) for line in shown.splitlines())
    body = re.search(r"```json\n(.*?)```", text, flags=re.S).group(1)

    sample_headers = json.loads((SAMPLE / "headers.json").read_text())
    assert {name.lower(): value for name, value in headers.items()} == sample_headers
    assert json.loads(body) == json.loads((SAMPLE / "body.json").read_bytes())
