"""Kick delivery tasks after the transaction that created the rows commits.

PLACEHOLDER until the delivery engine lands: the contract is `enqueue_deliveries(ids)`, called
inside the writing transaction; it must never raise to the caller (the sweep sends what a failed
enqueue missed).
"""

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)


def enqueue_deliveries(delivery_ids: Iterable) -> None:
    """Kick one deliver task per id once the current transaction commits."""
    ids = [str(i) for i in delivery_ids]
    logger.debug("enqueue of %d deliveries deferred to the sweep", len(ids))
