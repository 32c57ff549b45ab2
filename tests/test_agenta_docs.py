"""docs/agenta.md: the calls Agenta makes (emit on deploy, portal links) work as shown."""

import copy
import json
import logging
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.conftest import SERVICE_KEY
from tests.factories import WebhookFactory
from webhooks import events
from webhooks.models import Delivery, Event

DOC = Path(__file__).resolve().parent.parent / "docs" / "agenta.md"
TESTED_BLOCK = re.compile(r"<!-- tested: [^>]*-->\n```python\n(.*?)\n```", re.S)


def doc_snippets() -> list[str]:
    blocks = TESTED_BLOCK.findall(DOC.read_text())
    assert len(blocks) == 3, "docs/agenta.md should mark the HTTP, in-process and portal snippets"
    return blocks


def load_snippet() -> dict:
    """Run the doc's HTTP snippet as Agenta's module would be imported; return its globals."""
    namespace = {"__name__": "agenta_webhooks_client"}
    exec(compile(doc_snippets()[0], str(DOC), "exec"), namespace)
    return namespace


@pytest.fixture
def agenta(monkeypatch, live_server):
    """Return a loader of the HTTP snippet with its environment pointing at live_server."""
    loaded = []

    def load(url: str = live_server.url, key: str = SERVICE_KEY) -> dict:
        monkeypatch.setenv("WEBHOOKS_URL", url)
        monkeypatch.setenv("WEBHOOKS_AUTH_KEY", key)
        loaded.append(load_snippet())
        return loaded[-1]

    yield load
    # Close the kept-alive connections, so the live server's threads (and their database
    # connections) end before the test database is dropped.
    for namespace in loaded:
        namespace["_session"].close()


def deployed_config() -> dict:
    """A config as `config.model_dump(mode="json")` gives it in configs_deploy."""
    return copy.deepcopy(events.EVENT_TYPES["config.deployed"].example["config"])


@pytest.mark.django_db(transaction=True)
def test_the_documented_call_emits_one_event_per_deploy(agenta):
    client = agenta()
    project, user = uuid.uuid4(), str(uuid.uuid4())
    hook = WebhookFactory(project_id=project)
    config = deployed_config()

    client["notify_config_deployed"](str(project), config, user)
    client["notify_config_deployed"](str(project), config, user)  # Agenta retrying the deploy

    event = Event.objects.get()
    assert event.project_id == project
    assert event.idempotency_key == f"config.deployed:{config['environment_ref']['id']}"
    assert json.loads(event.body)["data"] == {"config": config, "deployed_by": user}
    assert Delivery.objects.get().webhook_id == hook.id

    next_deploy = deployed_config()
    next_deploy["environment_ref"].update(id=str(uuid.uuid4()), version=13)
    client["notify_config_deployed"](str(project), next_deploy, user)
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_refused_event_is_logged_and_the_deploy_goes_on(agenta, caplog):
    client = agenta()
    config = deployed_config()
    del config["environment_ref"]

    with caplog.at_level(logging.WARNING, logger="agenta_webhooks_client"):
        client["notify_config_deployed"](str(uuid.uuid4()), config, None)

    assert "refused with 400" in caplog.text
    assert "data.config.environment_ref" in caplog.text
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_is_logged_and_the_deploy_goes_on(agenta, caplog):
    client = agenta(key="not-the-service-key")

    with caplog.at_level(logging.WARNING, logger="agenta_webhooks_client"):
        client["notify_config_deployed"](str(uuid.uuid4()), deployed_config(), None)

    assert "refused with 401" in caplog.text
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_service_is_retried_then_logged_without_raising(agenta, unused_port, caplog):
    client = agenta(url=f"http://127.0.0.1:{unused_port}")
    started = time.monotonic()

    with caplog.at_level(logging.WARNING, logger="agenta_webhooks_client"):
        client["notify_config_deployed"](str(uuid.uuid4()), deployed_config(), None)

    elapsed = time.monotonic() - started
    assert "not announced" in caplog.text
    assert 0.9 <= elapsed < 10  # two retries, the second after a 1 s backoff


def test_without_configuration_the_call_is_skipped(monkeypatch):
    monkeypatch.delenv("WEBHOOKS_URL", raising=False)
    monkeypatch.delenv("WEBHOOKS_AUTH_KEY", raising=False)
    namespace = load_snippet()
    sent = []
    monkeypatch.setattr(namespace["_session"], "post", lambda *args, **kwargs: sent.append(args))

    namespace["notify_config_deployed"]("p", deployed_config(), None)

    assert sent == []


def test_the_deploy_key_falls_back_to_application_environment_and_version():
    namespace = load_snippet()
    config = deployed_config()
    config["environment_ref"]["id"] = None

    assert namespace["deploy_key"](config) == (
        f"config.deployed:{config['application_ref']['id']}:production:12"
    )


@pytest.mark.django_db
def test_the_documented_in_process_call_emits_the_same_event(capsys):
    project, user = uuid.uuid4(), str(uuid.uuid4())
    WebhookFactory.create_batch(2, project_id=project)
    config = deployed_config()
    namespace = {"project_id": project, "config": config, "user_id": user}

    exec(compile(doc_snippets()[1], str(DOC), "exec"), namespace)

    event = Event.objects.get()
    assert capsys.readouterr().out.split() == [str(event.id), "True", "2"]
    assert json.loads(event.body)["data"] == {"config": config, "deployed_by": user}


@pytest.mark.django_db(transaction=True)
def test_the_documented_portal_link_opens_the_project_portal_with_the_users_role(
    monkeypatch, live_server
):
    monkeypatch.setenv("WEBHOOKS_URL", live_server.url)
    monkeypatch.setenv("WEBHOOKS_AUTH_KEY", SERVICE_KEY)
    namespace = {"__name__": "agenta_portal"}
    exec(compile(doc_snippets()[2], str(DOC), "exec"), namespace)
    project = uuid.uuid4()
    hook = WebhookFactory(project_id=project, name="slack relay")

    for can_edit, role in ((True, "read-write"), (False, "read-only")):
        url = urlsplit(namespace["portal_link"](str(project), "ada@example.com", can_edit))
        browser = Client()
        assert browser.get(f"{url.path}?{url.query}").status_code == 302
        page = browser.get("/portal/").content.decode()
        assert hook.name in page
        assert f"{role} · ada@example.com" in page


def test_the_documented_frame_setting_is_read_by_the_settings():
    settings_source = (DOC.parent.parent / "webhooks_project" / "settings.py").read_text()

    assert "WEBHOOKS_PORTAL_FRAME_ANCESTORS" in DOC.read_text()
    assert '"WEBHOOKS_PORTAL_FRAME_ANCESTORS"' in settings_source
