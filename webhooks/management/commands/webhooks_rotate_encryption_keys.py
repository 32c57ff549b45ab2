"""Re-encrypt every stored secret, header and URL under the first WEBHOOKS_ENCRYPTION_KEYS key."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from webhooks.services.key_rotation import DEFAULT_BATCH_SIZE, rotate_encryption_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt webhook secrets, custom headers and URLs under the first key of "
        "WEBHOOKS_ENCRYPTION_KEYS, in batches. Safe to interrupt and run again: values already "
        "under that key are skipped. Afterwards the older keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--after", type=uuid.UUID, help="resume after this webhook id (from a progress line)"
        )

    def handle(self, *args, batch_size: int, after: uuid.UUID | None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        def progress(result) -> None:
            self.stdout.write(
                f"batch {result.batches}: {result.webhooks} webhooks, {result.rotated} values "
                f"re-encrypted (last id {result.last_id})"
            )

        result = rotate_encryption_keys(batch_size=batch_size, after=after, progress=progress)
        self.stdout.write(result.summary())
        if result.undecryptable:
            self.stderr.write(
                f"{result.undecryptable} values could not be decrypted with any key in "
                "WEBHOOKS_ENCRYPTION_KEYS and were left as they are: add the key they were "
                "encrypted with and run this again, or regenerate those webhooks' secrets "
                "(manage.py check --database default lists them)."
            )
