"""App config: the wiring that would otherwise be import-time side effects (no database work)."""

from django.apps import AppConfig
from django.core.signals import request_finished, request_started


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from taskiq import TaskiqEvents

        from webhooks import checks, tasks  # noqa: F401  (register the checks and the tasks)
        from webhooks.broker import broker
        from webhooks.engine import embedded, liveness, signals, wakeups
        from webhooks.observability import receivers
        from webhooks.services import operator

        # What the engine announces: metrics and log context, then the operator's events.
        signals.attempt_started.connect(receivers.bind_attempt, dispatch_uid="webhooks-log-ids")
        signals.attempt_recorded.connect(receivers.count_attempt, dispatch_uid="webhooks-metrics")
        signals.attempt_recorded.connect(
            operator.on_attempt_recorded, dispatch_uid="webhooks-operator-events"
        )
        signals.sweep_finished.connect(receivers.count_sweep, dispatch_uid="webhooks-sweep-metric")
        # A request's wake-ups wait until its response is out.
        request_started.connect(wakeups.defer_wakes, dispatch_uid="webhooks-defer-wakes")
        request_finished.connect(wakeups.send_deferred_wakes, dispatch_uid="webhooks-send-wakes")
        # The embedded mode (no REDIS_URL, else these do nothing): the sweep thread starts with
        # the first request, or with the in-process broker (an emit from a shell), never at import.
        request_started.connect(embedded.start_dispatcher, dispatch_uid="webhooks-embedded")
        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, embedded.start_dispatcher)
        # Each worker process heartbeats, so the scheduler ends its leases soon after it dies.
        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, liveness.start_heartbeat)
