"""Re-encrypt stored secrets under the newest key, and find what no configured key decrypts."""

import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from webhooks import crypto
from webhooks.fields import EncryptedToken, is_undecryptable
from webhooks.models import Webhook

logger = logging.getLogger(__name__)

ENCRYPTED_FIELDS = (
    "url",
    "headers",
    "secret",
    "previous_secret",
    "signing_key",
    "previous_signing_key",
)
DEFAULT_BATCH_SIZE = 200  # webhooks per transaction


@dataclass
class RotationResult:
    """What a rotation run did, field by field (a webhook has up to six encrypted values)."""

    webhooks: int = 0
    rotated: int = 0  # values re-encrypted under the newest key
    current: int = 0  # values that already were
    undecryptable: int = 0  # values no configured key decrypts: left as they are
    batches: int = 0
    last_id: uuid.UUID | None = None

    def summary(self) -> str:
        return (
            f"Examined {self.webhooks} webhooks in {self.batches} batches: re-encrypted "
            f"{self.rotated} values, {self.current} already under the newest key, "
            f"{self.undecryptable} undecryptable."
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "last_id": str(self.last_id) if self.last_id else None}


def rotate_encryption_keys(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    after: uuid.UUID | None = None,
    progress: Callable[[RotationResult], None] | None = None,
) -> RotationResult:
    """Re-encrypt every webhook's URL, headers, secrets and keys under the first configured key.

    Each batch commits on its own and values already under the newest key are skipped, so an
    interrupted run resumes where it stopped when run again (or from `after`, a webhook id).
    """
    result = RotationResult(last_id=after)
    while True:
        rows = Webhook.objects.order_by("id")
        if result.last_id is not None:
            rows = rows.filter(id__gt=result.last_id)
        with transaction.atomic():
            # The raw tokens: a Cast to plain text skips the fields' decryption on load.
            batch = list(
                rows.select_for_update()
                .annotate(**{f"raw_{name}": Cast(name, TextField()) for name in ENCRYPTED_FIELDS})
                .values_list("id", *(f"raw_{name}" for name in ENCRYPTED_FIELDS))[:batch_size]
            )
            for pk, *tokens in batch:
                changes = _rotated(dict(zip(ENCRYPTED_FIELDS, tokens, strict=True)), result)
                if changes:
                    Webhook.objects.filter(id=pk).update(**changes)
        if not batch:
            return result
        result.webhooks += len(batch)
        result.batches += 1
        result.last_id = batch[-1][0]
        if progress:
            progress(result)


def _rotated(tokens: dict[str, str | None], result: RotationResult) -> dict[str, EncryptedToken]:
    changes = {}
    for name, token in tokens.items():
        if not token:
            continue
        if crypto.is_current(token):
            result.current += 1
            continue
        try:
            changes[name] = EncryptedToken(crypto.rotate(token))
        except crypto.DecryptionError:
            result.undecryptable += 1
        else:
            result.rotated += 1
    return changes


def undecryptable_webhooks() -> tuple[int, int, list[uuid.UUID]]:
    """Return (webhooks stored, how many hold a value no key decrypts, a few of their ids)."""
    total, broken = 0, []
    for webhook in Webhook.objects.only("id", *ENCRYPTED_FIELDS).iterator(chunk_size=500):
        total += 1
        if any(is_undecryptable(getattr(webhook, name)) for name in ENCRYPTED_FIELDS):
            broken.append(webhook.id)
    logger.debug("%d of %d webhooks undecryptable", len(broken), total)
    return total, len(broken), broken[:5]
