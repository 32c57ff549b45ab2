"""Hardening: webhook URLs encrypted at rest, secret-read audit records, test-ping throttle."""

import django.db.models.deletion
from django.db import migrations, models

import webhooks.fields
import webhooks.ids
from webhooks import crypto

BATCH = 500  # rows per UPDATE round


def _convert_urls(apps, schema_editor, convert) -> None:
    # Raw SQL: the model's field now decrypts on load, and these rows are not encrypted yet.
    connection = schema_editor.connection
    table = connection.ops.quote_name(apps.get_model("webhooks", "Webhook")._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, url FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
        for start in range(0, len(rows), BATCH):
            cursor.executemany(
                f"UPDATE {table} SET url = %s WHERE id = %s",  # noqa: S608
                [(convert(url), pk) for pk, url in rows[start : start + BATCH]],
            )


def encrypt_urls(apps, schema_editor) -> None:
    """Encrypt every stored webhook URL under the first WEBHOOKS_ENCRYPTION_KEYS key."""
    _convert_urls(apps, schema_editor, crypto.encrypt)


def decrypt_urls(apps, schema_editor) -> None:
    """Store the URLs in clear again (reverse migration)."""
    _convert_urls(apps, schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_portal"),
    ]

    operations = [
        migrations.CreateModel(
            name="PingThrottle",
            fields=[
                (
                    "webhook",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="webhooks.webhook",
                    ),
                ),
                ("theoretical_arrival", models.DateTimeField()),
            ],
        ),
        migrations.AlterField(
            model_name="webhook",
            name="url",
            field=webhooks.fields.EncryptedTextField(),
        ),
        migrations.RunPython(encrypt_urls, decrypt_urls, elidable=False),
        migrations.CreateModel(
            name="SecretRead",
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
                ("actor", models.CharField(max_length=255)),
                ("address", models.GenericIPAddressField(blank=True, null=True)),
                (
                    "via",
                    models.CharField(
                        choices=[("api", "Api"), ("admin", "Admin"), ("portal", "Portal")],
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "webhook",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="secret_reads",
                        to="webhooks.webhook",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["webhook", "-id"], name="secretread_webhook_id")],
            },
        ),
    ]
