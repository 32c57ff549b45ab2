"""Webhook, Event, Delivery, DeliveryAttempt and ApiKey (see DESIGN.md section 4)."""

from django.db import models
from django.db.models import Q

from webhooks.fields import EncryptedJSONField, EncryptedTextField
from webhooks.ids import uuid7

DEFAULT_EVENT_TYPES = ["config.deployed"]


def default_event_types() -> list[str]:
    return list(DEFAULT_EVENT_TYPES)


class Webhook(models.Model):
    """An endpoint that a project subscribed to some event types."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project_id = models.UUIDField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    url = models.CharField(max_length=2048)
    event_types = models.JSONField(default=default_event_types)  # ["*"] means all
    filters = models.JSONField(default=dict, blank=True)  # {"applications": [], "environments": []}
    # Custom request headers; encrypted, since they often carry a receiver's bearer token.
    headers = EncryptedJSONField(default=dict, blank=True)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    # Deleting through the API keeps the row so its delivery history stays readable.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project_id", "is_active"], name="webhook_project_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def signing_secrets(self, now) -> list[str]:
        """Return the secrets to sign with: the current one, plus the previous during its grace."""
        grace = self.previous_secret and self.previous_secret_expires_at
        if grace and self.previous_secret_expires_at > now:
            return [self.secret, self.previous_secret]
        return [self.secret]


class Event(models.Model):
    """Something that happened in a project; body holds the exact bytes every delivery signs."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project_id = models.UUIDField()
    type = models.CharField(max_length=100)
    body = models.TextField()  # compact UTF-8 JSON envelope; TEXT, not JSONB, so keys keep order
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # sha256 of the type and data sent with the idempotency key: a reuse with other content is
    # refused. Empty without a key, and on events stored before it was kept.
    content_hash = models.CharField(max_length=64, blank=True, default="")
    application_id = models.CharField(max_length=255, blank=True, default="")
    application_slug = models.CharField(max_length=255, blank=True, default="")
    environment = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["project_id", "-id"], name="event_project_id"),
            models.Index(fields=["created_at"], name="event_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one webhook; its id is the webhook-id header, stable across retries."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERING = "delivering"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        AUTO = "auto"
        MANUAL = "manual"
        TEST = "test"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    # What starts the next attempt: a manual retry that fails schedules no automatic ones.
    trigger = models.CharField(max_length=10, choices=Trigger, default=Trigger.AUTO)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # due time while pending
    locked_until = models.DateTimeField(null=True, blank=True)  # worker lease while delivering
    queued_until = models.DateTimeField(null=True, blank=True)  # dispatch lease: kicked, in queue
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "webhook"], name="delivery_unique_event_webhook"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due"),
            models.Index(fields=["status", "locked_until"], name="delivery_status_lease"),
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_id"),
            models.Index(fields=["webhook", "created_at"], name="delivery_webhook_created"),
            models.Index(fields=["created_at"], name="delivery_created_at"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP try of a delivery: what was sent and what came back."""

    class ErrorKind(models.TextChoices):
        TIMEOUT = "timeout"
        CONNECTION = "connection"
        DNS = "dns"
        BLOCKED_DESTINATION = "blocked_destination"
        TLS = "tls"
        INVALID_RESPONSE = "invalid_response"
        HTTP_STATUS = "http_status"
        WEBHOOK_DISABLED = "webhook_disabled"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    trigger = models.CharField(
        max_length=10, choices=Delivery.Trigger, default=Delivery.Trigger.AUTO
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    request_url = models.CharField(max_length=2048)
    request_headers = models.JSONField(default=dict)  # secrets redacted
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True, default="")  # truncated
    error_kind = models.CharField(max_length=30, choices=ErrorKind, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class ApiKey(models.Model):
    """A project API key, shown once as <prefix>.<secret>; only a sha256 of the secret is kept."""

    class Scope(models.TextChoices):
        WEBHOOKS_READ = "webhooks:read"
        WEBHOOKS_WRITE = "webhooks:write"
        EVENTS_EMIT = "events:emit"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project_id = models.UUIDField()
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)  # sha256 hex of the secret part
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
