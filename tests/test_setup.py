"""The project installs cleanly: migrations are complete and apply on SQLite too."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_migrations_are_complete():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrations_apply_on_sqlite_and_bootstrap_makes_a_staff_user(tmp_path):
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    migrate = _manage("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr
    first = _manage("webhooks_bootstrap", env=env)
    assert first.returncode == 0, first.stderr
    assert "Created staff user 'admin'" in first.stdout
    again = _manage("webhooks_bootstrap", env=env)
    assert "A staff user exists: 'admin'" in again.stdout  # named, for make run's output


def test_make_run_refuses_a_busy_port_before_printing_any_link(tmp_path):
    # given something already listening where make run would serve
    env = {"DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    assert _manage("migrate", "--noinput", env=env).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # when make run's bootstrap step checks it
        busy = _manage("webhooks_bootstrap", "--check-port", env={**env, "PORT": str(port)})
    # then it stops with a message naming the port and how to pick another, and no links
    assert busy.returncode != 0
    assert f"Port {port} on 127.0.0.1 is in use" in busy.stderr
    assert f"PORT={port + 1} make run" in busy.stderr
    assert "http://" not in busy.stdout
    # and once the port is free, the same step goes on
    free = _manage("webhooks_bootstrap", "--check-port", env={**env, "PORT": str(port)})
    assert free.returncode == 0, free.stderr
    assert f"http://127.0.0.1:{port}/admin/" in free.stdout


def test_make_run_checks_the_port_before_the_portal_link():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") : makefile.index("\ntest:")]
    for mode in run.split("else")[:2]:  # the production topology, then the embedded mode
        assert mode.index("webhooks_bootstrap --check-port") < mode.index("webhooks_portal_link")


def test_deploy_check_with_production_settings_reports_nothing_of_ours(tmp_path):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 60 + "production-like-secret-key",
        "ALLOWED_HOSTS": "webhooks.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "WEBHOOKS_AUTH_KEY": "s" * 40,
        "WEBHOOKS_ENCRYPTION_KEYS": "k" * 40,
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    result = _manage("check", "--deploy", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "webhooks." not in output, output
