"""The worker's broker: `taskiq worker webhooks_project.worker:broker webhooks.tasks ...`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webhooks_project.settings")
django.setup()

from webhooks.broker import broker  # noqa: E402
from webhooks.checks import run_startup_checks  # noqa: E402

run_startup_checks()

__all__ = ["broker"]
