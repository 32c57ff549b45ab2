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
        from webhooks.observability import receivers, tracing
        from webhooks.services import operator

        # What the engine announces: metrics and log context, then the operator's events.
        signals.attempt_started.connect(receivers.bind_attempt, dispatch_uid="webhooks-log-ids")
        signals.attempt_recorded.connect(receivers.count_attempt, dispatch_uid="webhooks-metrics")
        signals.attempt_recorded.connect(
            operator.on_attempt_recorded, dispatch_uid="webhooks-operator-events"
        )
        signals.sweep_finished.connect(receivers.count_sweep, dispatch_uid="webhooks-sweep-metric")
        if tracing.configure():  # OTEL_* asked for traces: else no receiver, no cost
            connect_tracing()
        # A request's wake-ups wait until its response is out.
        request_started.connect(wakeups.defer_wakes, dispatch_uid="webhooks-defer-wakes")
        request_finished.connect(wakeups.send_deferred_wakes, dispatch_uid="webhooks-send-wakes")
        # The embedded mode (no REDIS_URL, else these do nothing): the sweep thread starts with
        # the first request, or with the in-process broker (an emit from a shell), never at import.
        request_started.connect(embedded.start_dispatcher, dispatch_uid="webhooks-embedded")
        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, embedded.start_dispatcher)
        # Each worker process heartbeats, so the scheduler ends its leases soon after it dies.
        broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, liveness.start_heartbeat)


def connect_tracing(connect: bool = True) -> None:
    """Wire the attempt and sweep spans to what the engine announces, or unwire them (tests)."""
    from webhooks.engine import signals
    from webhooks.observability import receivers

    pairs = [
        (signals.attempt_started, receivers.trace_attempt_started),
        (signals.attempt_finished, receivers.trace_attempt_finished),
        (signals.sweep_started, receivers.trace_sweep_started),
        (signals.sweep_finished, receivers.trace_sweep_finished),
    ]
    for signal, receiver in pairs:
        uid = f"webhooks-{receiver.__name__}"
        if connect:
            signal.connect(receiver, dispatch_uid=uid)
        else:
            signal.disconnect(dispatch_uid=uid)
