"""Webhook, Event, Delivery, DeliveryAttempt and ApiKey (see DESIGN.md section 4)."""

from datetime import UTC, datetime

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from webhooks import crypto, signing, wire
from webhooks.fields import EncryptedJSONField, EncryptedTextField, is_undecryptable
from webhooks.ids import uuid7
from webhooks.outcomes import ErrorKind

DEFAULT_EVENT_TYPES = ["config.deployed"]
MAX_IN_FLIGHT_LIMIT = 32  # concurrent attempts one webhook may be given
NEVER_SWEPT = datetime(2000, 1, 1, tzinfo=UTC)


def default_event_types() -> list[str]:
    return list(DEFAULT_EVENT_TYPES)


def default_signature_schemes() -> list[str]:
    return [signing.HMAC_SCHEME]


class Webhook(models.Model):
    """An endpoint that a project subscribed to some event types."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project_id = models.UUIDField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # Encrypted: receivers often put a token in the path or query (wire.redacted_url shows it).
    url = EncryptedTextField()
    event_types = models.JSONField(default=default_event_types)  # ["*"] means all
    filters = models.JSONField(default=dict, blank=True)  # {"applications": [], "environments": []}
    # Custom request headers; encrypted, since they often carry a receiver's bearer token.
    headers = EncryptedJSONField(default=dict, blank=True)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(null=True, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Which Standard Webhooks signatures deliveries carry: "v1" (HMAC, the secret above) and/or
    # "v1a" (ed25519, the signing key below, verified with its public key alone).
    # db_default too: rows written by statements of their own (bulk loads, SQL tools) get it.
    signature_schemes = models.JSONField(
        default=default_signature_schemes,
        db_default=models.Value([signing.HMAC_SCHEME], models.JSONField()),
    )
    signing_key = EncryptedTextField(null=True, blank=True)  # whsk_...; made when v1a is chosen
    previous_signing_key = EncryptedTextField(null=True, blank=True)
    previous_signing_key_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    # The circuit breaker: automatic attempts failed in a row (reset by a success), and since
    # when the webhook has been held to one lane for it (WEBHOOKS["CIRCUIT_BREAKER_FAILURES"]).
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_since = models.DateTimeField(null=True, blank=True)
    # Concurrent attempts at most (its lanes); None: WEBHOOKS["MAX_IN_FLIGHT_PER_WEBHOOK"].
    max_in_flight = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT_LIMIT)],
    )
    # Deleting through the API keeps the row so its delivery history stays readable.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the sweep last woke it (NEVER_SWEPT: not yet): it wakes the least recent ones first.
    swept_at = models.DateTimeField(db_default=NEVER_SWEPT, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["project_id", "is_active"], name="webhook_project_active"),
            models.Index(fields=["swept_at"], name="webhook_swept_at"),
        ]

    def __str__(self) -> str:
        url = "undecryptable URL" if is_undecryptable(self.url) else wire.redacted_url(self.url)
        return f"{self.name} ({url})"

    def undecryptable_fields(self) -> list[str]:
        """Return the encrypted fields that no configured key decrypts (url, headers, secret)."""
        return [
            name for name in ("url", "headers", "secret") if is_undecryptable(getattr(self, name))
        ]

    @property
    def secret_status(self) -> str:
        """Return "ok", or "undecryptable" when the secret or headers need regenerating."""
        broken = set(self.undecryptable_fields()) & {"secret", "headers"}
        return "undecryptable" if broken else "ok"

    def signing_secrets(self, now) -> list[str]:
        """Return the secrets to sign with: the current one, plus the previous during its grace.

        Raise crypto.DecryptionError when the secret, the custom headers or the URL can't be
        decrypted with WEBHOOKS_ENCRYPTION_KEYS: nothing can be sent until they are replaced.
        A previous secret that can't be decrypted just stops signing.
        """
        broken = self.undecryptable_fields()
        if broken:
            raise crypto.DecryptionError(
                f"webhook {self.pk}: no key in WEBHOOKS_ENCRYPTION_KEYS decrypts its "
                f"{', '.join(broken)}; regenerate its secret (POST .../regenerate-secret)"
                + (" and set its URL again" if "url" in broken else "")
            )
        previous = self.previous_secret
        grace = previous and self.previous_secret_expires_at
        if grace and self.previous_secret_expires_at > now and not is_undecryptable(previous):
            return [self.secret, previous]
        return [self.secret]

    def signing_material(self, now) -> tuple[list[str], list[str]]:
        """Return (v1 secrets, v1a signing keys) that an attempt made now is signed with."""
        secrets = self.signing_secrets(now)  # raises when the URL or headers can't be read
        v1 = secrets if signing.HMAC_SCHEME in self.signature_schemes else []
        return v1, self.signing_keys(now)

    def signing_keys(self, now) -> list[str]:
        """Return the ed25519 keys to sign with (v1a): current, plus the previous in its grace.

        Raise crypto.DecryptionError when v1a is chosen and the key can't be decrypted.
        """
        if signing.ED25519_SCHEME not in self.signature_schemes or not self.signing_key:
            return []
        if is_undecryptable(self.signing_key):
            raise crypto.DecryptionError(
                f"webhook {self.pk}: no key in WEBHOOKS_ENCRYPTION_KEYS decrypts its signing key; "
                "rotate it (POST .../rotate-signing-key)"
            )
        return [self.signing_key, *self.previous_signing_keys(now)]

    def published_keys(self, now) -> list[dict]:
        """Return the JWKs of the keys that verify v1a signatures now, current first."""
        keys = []
        if self.signing_key and not is_undecryptable(self.signing_key):
            keys.append((self.signing_key, "current", None))
        keys += [
            (k, "previous", self.previous_signing_key_expires_at)
            for k in self.previous_signing_keys(now)
        ]
        return [
            {
                **signing.public_jwk(key),
                "public_key": signing.public_key(key),
                "status": status,
                "expires_at": until,
            }
            for key, status, until in keys
        ]

    def previous_signing_keys(self, now) -> list[str]:
        """Return [the previous signing key] while its grace lasts and it decrypts, else []."""
        previous, until = self.previous_signing_key, self.previous_signing_key_expires_at
        if previous and until and until > now and not is_undecryptable(previous):
            return [previous]
        return []


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
    # The W3C trace context of the emit ({"traceparent": ..., "tracestate": ...}) when tracing
    # is on: every attempt's span is its child. Empty otherwise.
    trace_context = models.JSONField(
        default=dict, db_default=models.Value({}, models.JSONField()), blank=True
    )
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
        AUTO = "auto"  # the automatic schedule (the first attempt and its retries)
        MANUAL = "manual"  # a person: Retry now (portal), API retry, admin Redeliver
        TEST = "test"  # a test ping
        RECOVER = "recover"  # recover re-queued it

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No index of their own: the (event, webhook) constraint's and delivery_webhook_id lead
    # with them, and each index of this table is written at every claim and record.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    # While pending: what starts its next attempt; once finished: what started its last one. A
    # test ping's delivery stays "test" whoever sends it again (docs/api.md, "Triggers").
    trigger = models.CharField(max_length=10, choices=Trigger, default=Trigger.AUTO)
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempts started by the automatic schedule: its position (manual ones don't move it). A
    # database default too, for rows written by raw SQL.
    auto_attempt_count = models.PositiveIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # due time while pending
    # The worker's lease while delivering, from the database clock. It stays set after the lease
    # ends: a worker records its outcome only while the value is still the one its claim set.
    locked_until = models.DateTimeField(null=True, blank=True)
    # The worker process (a Worker's id) holding the lease; None for a process with no heartbeat.
    locked_by = models.UUIDField(null=True, blank=True)
    # Leases that expired with no attempt recorded (a worker killed on it); reset by an attempt.
    lease_expiries = models.PositiveSmallIntegerField(default=0)
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
            # Partial: a row is in each only while it is pending / delivering, so the two
            # updates of an attempt (claim, record) write fewer index entries.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due"
            ),
            models.Index(
                fields=["locked_until"], condition=Q(status="delivering"), name="delivery_lease"
            ),
            # A lane's claim: the webhook's due deliveries, oldest due first.
            models.Index(
                fields=["webhook", "next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_lane_due",
            ),
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_id"),
            models.Index(fields=["webhook", "created_at"], name="delivery_webhook_created"),
            models.Index(fields=["created_at"], name="delivery_created_at"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP try of a delivery: what was sent and what came back."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No index of its own: attempt_unique_number leads with it.
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
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
    error_kind = models.CharField(
        max_length=30, choices=ErrorKind.choices(), blank=True, default=""
    )
    error_message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class Lane(models.Model):
    """One of a webhook's max_in_flight sending slots, held by a worker until expires_at.

    A lease, never a lock: a killed worker's slot frees itself when its time is up.
    """

    # No index of its own: lane_unique_slot leads with it.
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="lanes", db_index=False
    )
    slot = models.PositiveSmallIntegerField()
    token = models.UUIDField()  # the holder's; its claims and releases name it
    expires_at = models.DateTimeField()
    held_by = models.UUIDField(null=True, blank=True)  # the holder's worker process (Worker.id)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "slot"], name="lane_unique_slot")]

    def __str__(self) -> str:
        return f"lane {self.slot} of {self.webhook_id}"


class ProjectSlot(models.Model):
    """One of a project's MAX_IN_FLIGHT_PER_PROJECT sending slots, taken with a lane.

    Held by the lane of the same token until expires_at, so it frees itself as a lane does.
    """

    project_id = models.UUIDField()
    slot = models.PositiveSmallIntegerField()
    token = models.UUIDField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "slot"], name="project_slot_unique")
        ]

    def __str__(self) -> str:
        return f"slot {self.slot} of project {self.project_id}"


class LaneWaiter(models.Model):
    """A webhook with due work that found no free lane or project slot: a release wakes it."""

    webhook = models.OneToOneField(Webhook, on_delete=models.CASCADE, primary_key=True)
    project_id = models.UUIDField()
    since = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["project_id", "since"], name="lane_waiter_project")]

    def __str__(self) -> str:
        return f"{self.webhook_id} waiting since {self.since}"


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


class PortalSession(models.Model):
    """A project portal link and, once opened, the browser session it started.

    The link is single use: opening it sets opened_at, and only a link not yet opened opens.
    """

    class Role(models.TextChoices):
        READ_ONLY = "read_only"
        READ_WRITE = "read_write"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project_id = models.UUIDField()
    role = models.CharField(max_length=20, choices=Role, default=Role.READ_ONLY)
    actor = models.CharField(max_length=200, blank=True, default="")  # whom Agenta made it for
    created_at = models.DateTimeField(auto_now_add=True)
    link_expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # of the session, once opened
    ended_at = models.DateTimeField(null=True, blank=True)  # signed out

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"], name="portal_session_created_at")]

    def __str__(self) -> str:
        return f"portal session {self.id} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role == self.Role.READ_WRITE


class SecretRead(models.Model):
    """An audit record: someone was shown a webhook's signing secret."""

    class Via(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        PORTAL = "portal"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="secret_reads")
    project_id = models.UUIDField()
    # "service", "api_key:<prefix> (<name>)", "staff:<username>", or the portal's user
    actor = models.CharField(max_length=255)
    address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=10, choices=Via)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["webhook", "-id"], name="secretread_webhook_id")]

    def __str__(self) -> str:
        return f"{self.actor} read the secret of {self.webhook_id} via {self.via}"


class PingThrottle(models.Model):
    """When a webhook's next test ping is allowed: a token bucket kept as one time (GCRA)."""

    webhook = models.OneToOneField(
        Webhook, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # The bucket is full when this is in the past; each ping moves it one interval later.
    theoretical_arrival = models.DateTimeField()

    def __str__(self) -> str:
        return f"test ping throttle of {self.webhook_id}"


class Worker(models.Model):
    """A worker process's heartbeat: the leases it holds end soon after it falls silent."""

    id = models.UUIDField(primary_key=True, editable=False)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()  # the database's clock

    class Meta:
        indexes = [models.Index(fields=["beat_at"], name="worker_beat_at")]

    def __str__(self) -> str:
        return f"worker {self.hostname}:{self.pid}"
