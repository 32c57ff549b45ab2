"""Services: the only code that writes. In-process callers emit with `emit_webhook_event`."""

from webhooks.services.emit import emit_webhook_event

__all__ = ["emit_webhook_event"]
