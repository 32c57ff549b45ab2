"""The project installs cleanly: migrations are complete and apply on SQLite too."""

import os
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
    assert "A staff user exists" in again.stdout


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
