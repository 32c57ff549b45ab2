"""WSGI entry point (gunicorn webhooks_project.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webhooks_project.settings")

application = get_wsgi_application()

from webhooks.checks import run_startup_checks  # noqa: E402  (needs the apps loaded)

run_startup_checks()
