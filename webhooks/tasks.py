"""Thin Taskiq tasks taking ids; the work and every write live in webhooks.services."""

import logging

from django.db import close_old_connections

from webhooks.broker import broker
from webhooks.services.delivery import deliver as deliver_service
from webhooks.services.dispatch import dispatch_due as dispatch_due_service

logger = logging.getLogger(__name__)


@broker.task(task_name="webhooks.deliver")
def deliver(delivery_id: str) -> None:
    """Make one attempt of a delivery if it is pending and due; a duplicate message does nothing."""
    # Worker threads keep their connections between tasks: drop broken or expired ones first.
    close_old_connections()
    try:
        deliver_service(delivery_id)
    except Exception:
        # Not an HTTP outcome (those are recorded): the database or a bug. The lease expires
        # and the sweep returns the delivery to pending, so nothing is lost.
        logger.exception("delivery %s: attempt aborted", delivery_id)
    finally:
        close_old_connections()


@broker.task(task_name="webhooks.dispatch_due")
def dispatch_due() -> None:
    """Return expired leases and kick the due deliveries (the scheduler sends this)."""
    close_old_connections()
    try:
        dispatch_due_service()
    except Exception:
        logger.exception("dispatch of due deliveries failed; the next run tries again")
    finally:
        close_old_connections()
