# The project portal: links and the sessions they open (renumbered at merge).

from django.db import migrations, models

import webhooks.ids


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_lanes"),
    ]

    operations = [
        migrations.CreateModel(
            name="PortalSession",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=webhooks.ids.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("project_id", models.UUIDField()),
                (
                    "role",
                    models.CharField(
                        choices=[("read_only", "Read Only"), ("read_write", "Read Write")],
                        default="read_only",
                        max_length=20,
                    ),
                ),
                ("actor", models.CharField(blank=True, default="", max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("link_expires_at", models.DateTimeField()),
                ("opened_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["created_at"], name="portal_session_created_at")],
            },
        ),
    ]
