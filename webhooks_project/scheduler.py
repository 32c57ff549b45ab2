"""The scheduler: `taskiq scheduler webhooks_project.scheduler:scheduler` kicks the sweep.

It sends `webhooks.dispatch_due` every WEBHOOKS["DISPATCH_INTERVAL_SECONDS"] (whole seconds, at
least 1: Taskiq's interval resolution). Running two schedulers is harmless, only wasteful: the
sweep locks rows with SKIP LOCKED and holds a dispatch lease on what it kicked.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webhooks_project.settings")
django.setup()

from taskiq import ScheduledTask, ScheduleSource, TaskiqScheduler  # noqa: E402

from webhooks.broker import broker  # noqa: E402
from webhooks.conf import app_settings  # noqa: E402

DISPATCH_SCHEDULE_ID = "webhooks-dispatch-due"


class DispatchSchedule(ScheduleSource):
    """One interval schedule, read from settings: the sweep of due deliveries."""

    async def get_schedules(self) -> list[ScheduledTask]:
        interval = max(1, round(app_settings.DISPATCH_INTERVAL_SECONDS))
        return [
            ScheduledTask(
                task_name="webhooks.dispatch_due",
                labels={},
                args=[],
                kwargs={},
                schedule_id=DISPATCH_SCHEDULE_ID,
                interval=interval,
            )
        ]


scheduler = TaskiqScheduler(broker=broker, sources=[DispatchSchedule()])
