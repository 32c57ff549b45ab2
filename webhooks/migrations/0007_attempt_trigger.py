"""The recover trigger, and the count of automatic attempts that places a delivery in its
retry schedule (manual, recover and test attempts no longer move it)."""

from django.db import migrations, models
from django.db.models import F

TRIGGERS = [("auto", "Auto"), ("manual", "Manual"), ("test", "Test"), ("recover", "Recover")]


def count_existing_attempts(apps, schema_editor):
    # Before this migration every attempt moved the schedule. Succeeded rows (most of the table)
    # are left at 0: only a failed retry reads the count, which then starts the schedule over.
    Delivery = apps.get_model("webhooks", "Delivery")
    unfinished_or_failed = Delivery.objects.exclude(status="succeeded").filter(attempt_count__gt=0)
    unfinished_or_failed.update(auto_attempt_count=F("attempt_count"))


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0006_partial_due_indexes")]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="auto_attempt_count",
            # db_default too: rows inserted by raw SQL (benchmarks, tools) that name no value
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
        migrations.RunPython(count_existing_attempts, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="delivery",
            name="trigger",
            field=models.CharField(choices=TRIGGERS, default="auto", max_length=10),
        ),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="trigger",
            field=models.CharField(choices=TRIGGERS, default="auto", max_length=10),
        ),
    ]
