"""Return stuck deliveries to pending and re-kick overdue ones (cron: every 5 minutes)."""

from django.core.management.base import BaseCommand, CommandError

from webhooks.services.maintenance import parse_duration, retry_stuck


class Command(BaseCommand):
    help = (
        "Return deliveries stuck in delivering past their worker lease (or for longer than "
        "--stuck-after) to pending, then kick every due pending delivery. Prints a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stuck-after",
            default=None,
            metavar="DURATION",
            help="also recover deliveries delivering for longer than this, e.g. 90s, 15m, 1h "
            "(default: WEBHOOKS STUCK_AFTER_SECONDS, one hour)",
        )

    def handle(self, *args, stuck_after=None, **options):
        try:
            window = parse_duration(stuck_after) if stuck_after is not None else None
        except ValueError as exc:
            raise CommandError(f"--stuck-after: {exc}") from exc
        result = retry_stuck(stuck_after=window)
        self.stdout.write(result.summary())
