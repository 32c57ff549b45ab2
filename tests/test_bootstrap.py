"""webhooks_bootstrap says how to call the API without printing the key where logs keep it."""

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

KEY = "a-service-key-that-must-stay-out-of-logs"


def _bootstrap() -> str:
    out = StringIO()
    call_command("webhooks_bootstrap", stdout=out)
    return out.getvalue()


def test_the_production_topology_names_the_variable_not_the_value(settings):
    settings.WEBHOOKS_AUTH_KEY, settings.REDIS_URL = KEY, "redis://127.0.0.1:6379/3"

    text = _bootstrap()

    assert KEY not in text
    assert "WEBHOOKS_AUTH_KEY" in text and "set in the environment" in text


def test_it_names_the_env_file_that_make_run_wrote(settings, tmp_path):
    settings.WEBHOOKS_AUTH_KEY, settings.REDIS_URL = KEY, "redis://127.0.0.1:6379/3"
    settings.VAR_DIR = tmp_path
    (tmp_path / "local.env").write_text(f"WEBHOOKS_AUTH_KEY={KEY}\n")

    text = _bootstrap()

    assert KEY not in text and str(tmp_path / "local.env") in text


def test_the_embedded_mode_still_shows_a_ready_curl_line(settings):
    settings.WEBHOOKS_AUTH_KEY, settings.REDIS_URL = KEY, ""
    assert f"Authorization: Access {KEY}" in _bootstrap()
