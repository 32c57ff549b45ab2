"""Delete delivery history older than the retention period (cron: daily at 03:00)."""

from django.core.management.base import BaseCommand, CommandError

from webhooks.conf import app_settings
from webhooks.services.maintenance import DEFAULT_BATCH_SIZE, cleanup


class Command(BaseCommand):
    help = (
        "Delete deliveries (and their attempts) older than --days, then the events left without "
        "deliveries, in batches of short transactions. Prints one summary line."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="delete rows older than this many days (default: WEBHOOKS RETENTION_DAYS)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"rows per delete transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, days=None, batch_size=DEFAULT_BATCH_SIZE, dry_run=False, **options):
        days = app_settings.RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        result = cleanup(days=days, batch_size=batch_size, dry_run=dry_run)
        self.stdout.write(result.summary())
