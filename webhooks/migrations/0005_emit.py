# Event.content_hash: the hash of an idempotent emit's type and data (docs/api.md).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0004_hardening")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="content_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
