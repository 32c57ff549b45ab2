"""#23: a webhook's signature schemes and ed25519 signing keys, an event's trace context."""

from django.db import migrations, models

import webhooks.fields
import webhooks.models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0009_worker_liveness"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="trace_context",
            field=models.JSONField(
                blank=True, db_default=models.Value({}, models.JSONField()), default=dict
            ),
        ),
        migrations.AddField(
            model_name="webhook",
            name="previous_signing_key",
            field=webhooks.fields.EncryptedTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhook",
            name="previous_signing_key_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhook",
            name="signature_schemes",
            field=models.JSONField(
                db_default=models.Value(["v1"], models.JSONField()),
                default=webhooks.models.default_signature_schemes,
            ),
        ),
        migrations.AddField(
            model_name="webhook",
            name="signing_key",
            field=webhooks.fields.EncryptedTextField(blank=True, null=True),
        ),
    ]
