"""The worker's broker: `taskiq worker webhooks_project.worker:broker webhooks.tasks ...`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webhooks_project.settings")
django.setup()

from webhooks.broker import broker  # noqa: E402

__all__ = ["broker"]
