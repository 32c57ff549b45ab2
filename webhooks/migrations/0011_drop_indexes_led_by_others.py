"""Drop the foreign keys' own indexes where another index leads with the same column.

Each index of the delivery table is written at every claim and record: two fewer is less
database CPU per delivery (docs/performance.md). Only the indexes go: Django's AlterField would
also drop and re-add each foreign key, which checks every row of these (large) tables under lock.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Index

# (model, column): the composite index that leads with the column stays.
_LED_BY_OTHERS = [
    ("delivery", "event_id"),  # delivery_unique_event_webhook
    ("delivery", "webhook_id"),  # delivery_webhook_id, delivery_webhook_created
    ("deliveryattempt", "delivery_id"),  # attempt_unique_number
    ("lane", "webhook_id"),  # lane_unique_slot
]


def _indexes(schema_editor, model, column) -> list[str]:
    """Return the names of the plain one-column indexes of model's column."""
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, about in found.items()
        if about["index"]
        and not about["unique"]
        and not about["primary_key"]
        and about["columns"] == [column]
        and about.get("type") in (Index.suffix, "btree", None)
    ]


def drop(apps, schema_editor):
    for model_name, column in _LED_BY_OTHERS:
        model = apps.get_model("webhooks", model_name)
        for name in _indexes(schema_editor, model, column):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def make(apps, schema_editor):
    for model_name, column in _LED_BY_OTHERS:
        model = apps.get_model("webhooks", model_name)
        field = next(f for f in model._meta.concrete_fields if f.column == column)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0010_signing_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, make)],
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="webhooks.event",
                    ),
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="webhook",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="webhooks.webhook",
                    ),
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="delivery",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="webhooks.delivery",
                    ),
                ),
                migrations.AlterField(
                    model_name="lane",
                    name="webhook",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lanes",
                        to="webhooks.webhook",
                    ),
                ),
            ],
        ),
    ]
