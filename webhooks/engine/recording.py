"""Record a batch's outcomes so that one record the store refuses never loses the others'.

The batch goes in one statement; should that fail for anything but a lost connection, each
record goes in alone, and one refused even alone is recorded as an `internal_error` attempt
that says why (still a failure under the retry policy), so every request sent stays an attempt.
"""

import logging
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection

from webhooks.engine import sender
from webhooks.engine.store import Batch, Record

logger = logging.getLogger(__name__)

_CONNECTION_LOST = (OperationalError, InterfaceError)  # nothing one by one would fix


def record_batch(
    write: Callable[[list[Record]], set[uuid.UUID]], batch: Batch, records: list[Record]
) -> tuple[set[uuid.UUID], list[Record]]:
    """Write the records; return the ids whose state applied and the records as written."""
    try:
        return write(records), records
    except _CONNECTION_LOST:
        raise
    except Exception:
        if connection.in_atomic_block:
            raise  # the caller's transaction is aborted: nothing more can be written in it
        logger.exception("recording %d outcomes failed; recording them one by one", len(records))
    deliveries = {delivery.pk: delivery for delivery in batch.deliveries}
    applied, written = set(), []
    for record in records:
        try:
            applied |= write([record])
            written.append(record)
            continue
        except _CONNECTION_LOST:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            logger.exception("delivery %s: its outcome could not be recorded", record.delivery_id)
        if record.attempt is None:
            continue  # given back unsent: its lease returns it
        stand_in = sender.unrecordable(deliveries[record.delivery_id], record, reason, batch.clock)
        try:
            applied |= write([stand_in])
            written.append(stand_in)
        except _CONNECTION_LOST:
            raise
        except Exception:  # its lease returns it, and the sweep ends it after a few
            logger.exception(
                "delivery %s: not even its error could be recorded", record.delivery_id
            )
    return applied, written
