"""Make a project portal link and print it (what POST .../portal-sessions answers, offline)."""

import os
import uuid

from django.core.management.base import BaseCommand
from django.urls import reverse

from webhooks.conf import app_settings
from webhooks.models import PortalSession
from webhooks.portal.sessions import create_link


class Command(BaseCommand):
    help = (
        "Print a single-use link that opens the project portal of one project (only the URL "
        "goes to stdout). It must be opened within WEBHOOKS['PORTAL_LINK_SECONDS']."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, type=uuid.UUID, help="project UUID")
        parser.add_argument(
            "--role", choices=PortalSession.Role.values, default=PortalSession.Role.READ_WRITE
        )
        parser.add_argument(
            "--base-url",
            default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
            help="where this service is reached (default http://127.0.0.1:$PORT)",
        )

    def handle(self, *args, project, role, base_url, **options):
        _, token = create_link(project, role=role, actor="manage.py webhooks_portal_link")
        minutes = app_settings.PORTAL_LINK_SECONDS // 60
        self.stderr.write(
            f"Portal link for project {project} ({role}); open it within {minutes} minutes, once:"
        )
        self.stdout.write(f"{base_url.rstrip('/')}{reverse('portal:open')}?token={token}")
