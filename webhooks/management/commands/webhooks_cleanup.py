"""Delete delivery history older than the retention period (cron: daily at 03:00)."""

import time

from django.core.management.base import BaseCommand, CommandError

from webhooks.conf import app_settings
from webhooks.services.retention import MAX_RETENTION_DAYS, CleanupResult, cleanup


class Command(BaseCommand):
    help = (
        "Delete finished deliveries (and their attempts) older than --days, and the events left "
        "without deliveries, in batches of short transactions. Pending and delivering deliveries "
        "are kept and counted. Prints a progress line every few seconds on a terminal (or with "
        "--progress) and one summary line."
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
            default=None,
            help="rows per delete transaction (default: WEBHOOKS CLEANUP_BATCH_SIZE, 5000)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="stop after the batch that reaches this budget; a later run goes on",
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="print progress lines even when stdout is not a terminal",
        )

    def handle(self, *args, days=None, batch_size=None, max_seconds=None, **options):
        days = app_settings.RETENTION_DAYS if days is None else days
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_RETENTION_DAYS}")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if max_seconds is not None and max_seconds <= 0:
            raise CommandError("--max-seconds must be positive")
        show = options["progress"] or self.stdout.isatty()
        result = cleanup(
            days=days,
            batch_size=batch_size,
            dry_run=options["dry_run"],
            max_seconds=max_seconds,
            on_batch=_Progress(self.stdout.write) if show else None,
        )
        self.stdout.write(result.summary())


class _Progress:
    """Write a progress line at most every CLEANUP_PROGRESS_SECONDS."""

    def __init__(self, write) -> None:
        self.write = write
        self.interval = app_settings.CLEANUP_PROGRESS_SECONDS
        self.next_at = time.monotonic() + self.interval

    def __call__(self, result: CleanupResult, done: float) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.interval
        left = f"about {result.seconds * (1 - done) / done:,.0f} s left" if done else "time left ?"
        self.write(
            f"webhooks_cleanup: {result.deliveries:,} deliveries, {result.attempts:,} attempts, "
            f"{result.events:,} events deleted in {result.seconds:,.0f} s "
            f"({result.rate():,.0f} rows/s); {done:.0%} of the period done, {left}"
        )
