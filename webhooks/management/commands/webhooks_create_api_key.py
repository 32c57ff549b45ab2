"""Create a project API key and print it once."""

import uuid

from django.core.management.base import BaseCommand

from webhooks.models import ApiKey
from webhooks.services.api_keys import create_api_key

DEFAULT_SCOPES = [ApiKey.Scope.WEBHOOKS_READ, ApiKey.Scope.WEBHOOKS_WRITE]


class Command(BaseCommand):
    help = (
        "Create an API key for one project and print it (only the key goes to stdout, so "
        "KEY=$(manage.py webhooks_create_api_key ...) works). It is never shown again. "
        "Scopes default to webhooks:read and webhooks:write."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, type=uuid.UUID, help="project UUID")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. 'ci'")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ApiKey.Scope.values,
            help="a scope to grant; repeat for several",
        )

    def handle(self, *args, project, name, scopes=None, **options):
        key, plain = create_api_key(project, name, scopes or DEFAULT_SCOPES)
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}) for project {key.project_id} with "
            f"scopes {', '.join(key.scopes)}. Store it now: it is not shown again."
        )
        self.stdout.write(plain)
