"""README.md: the curl walkthrough runs, block by block, against a live server, as written.

The walkthrough's blocks are marked `<!-- walkthrough: NAME -->`. Each `sh` step runs with bash
(`set -euo pipefail`) from the repository root; the variables a step assigns are carried to the
next ones. The setup block names the reader's server, so here BASE, WEBHOOKS_AUTH_KEY, PROJECT and
RECEIVER come from the test instead (the setup block itself runs in a sandbox). The live server has
no worker: the test delivers what is due between steps, as the embedded mode's queue would.
"""

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from standardwebhooks import Webhook as StandardWebhook

from tests.conftest import SERVICE_KEY
from tests.factories import DeliveryFactory, EventFactory, WebhookFactory
from tests.receiver import Reply
from tests.support import matches
from webhooks import events
from webhooks.engine.lanes import deliver
from webhooks.models import ApiKey, Delivery

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- walkthrough: ([\w -]+?) -->\n```(\w+)\n(.*?)\n```", re.S)
STEPS = ["key", "webhook", "emit", "deliveries", "delivery", "retry", "test", "portal"]
ASSIGNED = re.compile(r"^([A-Z_]+)=", re.M)
README_RECEIVER = "http://127.0.0.1:9000/hook"  # what the setup block sets RECEIVER to
STEP_TIMEOUT_SECONDS = 60

needs_tools = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the walkthrough needs curl and jq"
)


def walkthrough() -> dict[str, str]:
    """Return the walkthrough's blocks by name, checking that each is in its place."""
    blocks = BLOCK.findall(README.read_text())
    names = [name for name, _, _ in blocks]
    code = [name for name in names if not name.startswith("output ")]
    assert code == ["receiver", "setup", *STEPS], "README's walkthrough blocks changed order"
    return {name: text for name, _, text in blocks}


class Shell:
    """Run walkthrough steps one bash process each, carrying the variables they assign."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.state = workdir / "state.sh"
        self.state.write_text("")

    def run(self, code: str) -> str:
        names = sorted(set(ASSIGNED.findall(code)))
        save = f'\ndeclare -p {" ".join(names)} >> "$WALKTHROUGH_STATE"' if names else ""
        script = f'set -euo pipefail\n. "$WALKTHROUGH_STATE"\n{code}{save}\n'
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env={**self.env, "WALKTHROUGH_STATE": str(self.state)},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
        )
        assert done.returncode == 0, f"step failed:\n{code}\n--- stderr:\n{done.stderr}"
        return done.stdout

    def value(self, name: str) -> str:
        found = re.findall(rf'^declare -- {name}="(.*)"$', self.state.read_text(), re.M)
        assert found, f"the walkthrough did not set {name}"
        return found[-1]


def deliver_due() -> int:
    """Make the attempts a worker would make now; return how many were made."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING).values_list("id", flat=True)
    return sum(deliver(delivery_id) is not None for delivery_id in list(due))


@pytest.fixture
def shell(live_server, tmp_path) -> Shell:
    db = connection.settings_dict
    env = {
        **os.environ,
        "BASE": live_server.url,
        "WEBHOOKS_AUTH_KEY": SERVICE_KEY,
        "PROJECT": str(uuid.uuid4()),
        # manage.py (the key step) must use the live server's database.
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return Shell(env, tmp_path)


@needs_tools
@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_runs_as_written(shell, receiver):
    # given the README's endpoint: 200 with an empty body
    blocks = walkthrough()
    receiver.default = Reply(status=200, body=b"")
    shell.env["RECEIVER"] = receiver.url()
    outputs = {}

    for step in STEPS:
        # when each step runs, with the deliveries a worker would make in between
        stdout = shell.run(blocks[step])
        if f"output {step}" in blocks:
            outputs[step] = json.loads(stdout)
            # then it prints what the README shows (for the README's endpoint URL, ours)
            shown = blocks[f"output {step}"].replace(README_RECEIVER, receiver.url())
            expected = json.loads(shown)
            assert matches(expected, outputs[step]), f"{step}: {json.dumps(outputs[step])}"
        if step in ("emit", "retry"):
            assert deliver_due() == 1

    # the key is a project key with the default scopes
    key = ApiKey.objects.get(name="walkthrough")
    assert str(key.project_id) == shell.env["PROJECT"]
    assert sorted(key.scopes) == ["webhooks:read", "webhooks:write"]
    # the endpoint got the event, its redelivery, then the ping, each signed with the secret shown
    event, again, ping = receiver.wait_for(3)
    secret = outputs["webhook"]["secret"]
    for request in (event, again, ping):
        StandardWebhook(secret).verify(request.body, request.headers)
    assert [r.headers["x-agenta-event"] for r in (event, again, ping)] == [
        "config.deployed",
        "config.deployed",
        "webhook.test",
    ]
    assert json.loads(event.body)["data"] == events.EVENT_TYPES["config.deployed"].example
    # the retry was the same delivery: same webhook-id, same bytes
    assert again.headers["webhook-id"] == event.headers["webhook-id"] == shell.value("DELIVERY")
    assert again.body == event.body
    delivery = Delivery.objects.get(id=shell.value("DELIVERY"))
    assert [a.trigger for a in delivery.attempts.all()] == ["auto", "manual"]
    # the portal link opens the project's portal, which lists the webhook
    link = urlsplit(outputs["portal"]["url"])
    browser = Client()
    assert browser.get(f"{link.path}?{link.query}").status_code == 302
    assert outputs["webhook"]["id"] in browser.get("/portal/").content.decode()
    # and the README's sample line of the endpoint's output has the real size
    sample = re.search(r"`<webhook-id> config\.deployed (\d+) bytes`", README.read_text())
    assert sample and int(sample.group(1)) == len(event.body)


def test_the_setup_block_loads_the_service_key_and_names_a_project(tmp_path):
    # given an install where make run wrote var/local.env
    env_file = tmp_path / "var" / "local.env"
    call_command("webhooks_bootstrap", write_env=str(env_file), stdout=io.StringIO())
    keys = dict(re.findall(r"^(\w+)=(.*)$", env_file.read_text(), re.M))
    # when the setup block runs there
    script = (
        walkthrough()["setup"] + "\ndeclare -p BASE PROJECT RECEIVER WEBHOOKS_AUTH_KEY SECRET_KEY"
    )
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_SECONDS,
    )
    # then it defines what the steps use, and exports the install's settings for manage.py
    assert done.returncode == 0, done.stderr
    values = dict(re.findall(r'^declare -\S+ (\w+)="(.*)"$', done.stdout, re.M))
    assert values["BASE"] == "http://127.0.0.1:8000"
    assert values["RECEIVER"] == README_RECEIVER
    assert values["WEBHOOKS_AUTH_KEY"] == keys["WEBHOOKS_AUTH_KEY"]
    assert uuid.UUID(values["PROJECT"])
    for name in ("WEBHOOKS_AUTH_KEY", "SECRET_KEY"):  # exported, for manage.py
        assert f'declare -x {name}="{keys[name]}"' in done.stdout


@pytest.fixture
def readme_endpoint(unused_port):
    """Run the README's stand-in endpoint on a free port; yield (url, its process)."""
    code = walkthrough()["receiver"]
    assert '("127.0.0.1", 9000)' in code
    code = code.replace('("127.0.0.1", 9000)', f'("127.0.0.1", {unused_port})')
    process = subprocess.Popen(
        ["bash", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while not _listening(unused_port):
        assert time.monotonic() < deadline, "the README's endpoint did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{unused_port}/hook", process
    stop(process)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen) -> None:
    """End the process group of a bash block (bash and the python it started)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process.wait(10)


@pytest.mark.django_db
def test_the_readme_endpoint_answers_200_and_prints_each_delivery(readme_endpoint):
    url, process = readme_endpoint
    hook = WebhookFactory(url=url)
    delivery = DeliveryFactory(webhook=hook, event=EventFactory(project_id=hook.project_id))

    attempt = deliver(delivery.id)

    assert attempt.response_status == 200
    stop(process)
    printed = process.communicate(timeout=10)[0]
    body = delivery.event.body.encode()
    assert printed.split() == [str(delivery.id), "config.deployed", str(len(body)), "bytes"]


def test_the_configuration_table_lists_every_variable_the_settings_read():
    settings_source = (ROOT / "webhooks_project" / "settings.py").read_text()
    read = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z_]+)\"", settings_source))
    table = README.read_text().partition("## Configuration")[2].partition("\n## ")[0]
    listed = set(
        re.findall(r"`([A-Z][A-Z_]+)`", "".join(re.findall(r"^\| ([^|]+) \|", table, re.M)))
    )

    assert read, "no environment variable found in settings.py"
    assert listed == read
