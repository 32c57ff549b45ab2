"""Revoke a project API key by its prefix (or the whole key)."""

from django.core.management.base import BaseCommand, CommandError

from webhooks.models import ApiKey
from webhooks.services.api_keys import revoke_api_key


class Command(BaseCommand):
    help = "Revoke an API key given its prefix (ak_...) or the whole key; it stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("key", help="the key's prefix, or the whole <prefix>.<secret>")

    def handle(self, *args, key, **options):
        prefix = key.partition(".")[0]
        found = ApiKey.objects.filter(prefix=prefix).first()
        if found is None:
            raise CommandError(f"No API key has the prefix {prefix!r}.")
        if revoke_api_key(found):
            self.stdout.write(f"Revoked API key {found.name!r} ({found.prefix}).")
        else:
            self.stdout.write(f"API key {found.name!r} ({found.prefix}) was already revoked.")
