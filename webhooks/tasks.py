"""Thin Taskiq tasks taking ids; the work lives in webhooks.engine."""

import logging

from django.db import close_old_connections

from webhooks.broker import broker
from webhooks.engine import lanes, wakeups

logger = logging.getLogger(__name__)


@broker.task(task_name=wakeups.LANE_TASK)
def lane(webhook_id: str) -> None:
    """Send the webhook's due deliveries in one of its lanes (dropped when all are held)."""
    # Before claiming: a wake-up sent from now on is added again, so none is lost.
    wakeups.taken(webhook_id)
    # Worker threads keep their connections between tasks: drop broken or expired ones first.
    close_old_connections()
    try:
        lanes.run_lane(webhook_id)
    except Exception:
        # Not an attempt's outcome (those are recorded): the database, say. The leases expire
        # and the sweep returns the deliveries to pending, so nothing is lost.
        logger.exception("lane of webhook %s stopped", webhook_id)
    finally:
        close_old_connections()
