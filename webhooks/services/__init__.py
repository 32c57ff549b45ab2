"""Services: the writes a user asks for. In-process callers emit with `emit_webhook_event`.

The engine writes too, but only what deliveries themselves change: claims, attempts, leases
and a webhook's health (webhooks.engine).
"""

from webhooks.services.emit import emit_webhook_event

__all__ = ["emit_webhook_event"]
