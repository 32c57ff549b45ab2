"""Prepare a fresh install: a staff user and a service key, and say how to use them."""

import os
import secrets
import socket
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

LOCAL_ENV = "local.env"  # what `make run` writes under var/


class Command(BaseCommand):
    help = (
        "Create a staff superuser if none exists and print how to log in and call the API. "
        "With --write-env FILE, write an environment file of random keys and exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write-env", metavar="FILE", help="write an env file of random keys")
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--check-port",
            action="store_true",
            help="first fail, naming it, if $PORT (default 8000) on 127.0.0.1 is taken",
        )

    def handle(self, *args, write_env=None, username="admin", check_port=False, **options):
        if write_env:
            self._write_env(Path(write_env))
            return
        port = os.environ.get("PORT", "8000")
        if check_port:
            _refuse_a_busy_port(port)
        user_model = get_user_model()
        staff = list(
            user_model.objects.filter(is_staff=True)
            .order_by("-is_superuser", "pk")
            .values_list(user_model.USERNAME_FIELD, flat=True)[:3]
        )
        if not staff:
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created staff user {username!r} with password {password!r}.")
        else:
            self.stdout.write(
                f"A staff user exists: {staff[0]!r} (reset its password with: "
                f"manage.py changepassword {staff[0]})."
            )
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(f"Admin:   {base}/admin/")
        self.stdout.write(f"API docs: {base}/api/docs/")
        if not settings.WEBHOOKS_AUTH_KEY:
            self.stdout.write("WEBHOOKS_AUTH_KEY is not set: the service key is disabled.")
        elif settings.REDIS_URL:
            # The production topology: its output lands in process logs, so name the key only.
            self.stdout.write(
                f"Call the API with the service key in WEBHOOKS_AUTH_KEY ({_key_source()}), e.g.:"
                f'\n  curl -H "Authorization: Access $WEBHOOKS_AUTH_KEY" {base}/api/event-types'
            )
        else:
            self.stdout.write(
                "Call the API with the service key, e.g.:\n"
                f"  curl -H 'Authorization: Access {settings.WEBHOOKS_AUTH_KEY}' "
                f"{base}/api/event-types"
            )

    def _write_env(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Keys of this install, made once by `make run`; the environment wins. Keep private.",
            f"SECRET_KEY={secrets.token_urlsafe(48)}",
            f"WEBHOOKS_AUTH_KEY={secrets.token_urlsafe(32)}",
            f"WEBHOOKS_ENCRYPTION_KEYS={secrets.token_urlsafe(32)}",
        ]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(f"Wrote {path} (service key and encryption key for this install).")


def _key_source() -> str:
    """Return where WEBHOOKS_AUTH_KEY comes from: the environment, or `make run`'s env file."""
    path = settings.VAR_DIR / LOCAL_ENV
    line = f"WEBHOOKS_AUTH_KEY={settings.WEBHOOKS_AUTH_KEY}"
    if path.exists() and line in path.read_text().splitlines():
        return f"set in {path}"
    return "set in the environment"


def _refuse_a_busy_port(port: str) -> None:
    """Raise CommandError, saying how to pick another, when 127.0.0.1:port can't be served."""
    try:
        number = int(port)
    except ValueError:
        raise CommandError(f"PORT={port!r} is not a port number; e.g. PORT=8001 make run") from None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port left in TIME_WAIT by the last run is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", number))
        except OSError as exc:
            raise CommandError(
                f"Port {number} on 127.0.0.1 is in use ({exc.strerror or exc}): another "
                f"`make run` or server holds it. Stop it, or pick another port: "
                f"PORT={number + 1} make run"
            ) from None
