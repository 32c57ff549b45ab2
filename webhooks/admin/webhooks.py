"""Webhook admin: list health at a glance; test, enable, disable, rotate, recover, reveal."""

import time

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime

from webhooks import wire
from webhooks.admin import display
from webhooks.admin.webhook_pages import RecoverForm, WebhookButtons, ping_message
from webhooks.conf import app_settings
from webhooks.crypto import DecryptionError
from webhooks.fields import is_undecryptable
from webhooks.models import Delivery, SecretRead, Webhook
from webhooks.services import testing
from webhooks.services import webhooks as webhook_service
from webhooks.services.audit import record_secret_read
from webhooks.services.ping_throttle import PingRefused
from webhooks.services.redelivery import RecoverWindowInvalid, RedeliveryRefused, recover_failed

MAX_TESTS_PER_ACTION = 10  # each test ping waits for the endpoint, up to the delivery timeout


class WebhookAdminForm(forms.ModelForm):
    """The change page's one editable field, checked against the project's cap as the API does."""

    def clean_max_in_flight(self):
        value = self.cleaned_data["max_in_flight"]
        cap = app_settings.MAX_IN_FLIGHT_PER_PROJECT
        if value is not None and value > cap:
            raise forms.ValidationError(
                f"At most {cap}: a project's attempts in flight at once are capped at {cap} "
                "(MAX_IN_FLIGHT_PER_PROJECT)."
            )
        return value


class FailingFilter(admin.SimpleListFilter):
    title = "failing"
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [("yes", "Failing"), ("no", "Healthy")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(failing_since__isnull=self.value() == "no")
        return queryset


@admin.register(Webhook)
class WebhookAdmin(WebhookButtons, admin.ModelAdmin):
    list_display = [
        "name",
        "project",
        "destination",
        "state",
        "secret_state",
        "circuit",
        "last_delivery_status",
        "created",
    ]
    list_filter = ["is_active", FailingFilter, "created_at"]
    search_fields = ["name", "=project_id", "=id"]  # the URL is encrypted: not searchable
    fields = [
        "id",
        "project_id",
        "name",
        "description",
        "destination",
        "event_types",
        "filters",
        "custom_headers",
        "signing_secret",
        "secret_state",
        "is_active",
        "max_in_flight",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "circuit",
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    # Only the in-flight cap is edited here; everything else goes through the API's checks.
    readonly_fields = [name for name in fields if name != "max_in_flight"]
    form = WebhookAdminForm
    actions = ["send_test", "enable", "disable", "rotate_secret", "recover"]

    def get_queryset(self, request):
        latest = Delivery.objects.filter(webhook=OuterRef("pk")).order_by("-id")
        found = super().get_queryset(request)
        found = found.annotate(last_delivery_status=Subquery(latest.values("status")[:1]))
        return display.with_url_visibility(found, request)

    def has_add_permission(self, request):
        return False  # webhooks are created through the API, which validates them

    def has_delete_permission(self, request, obj=None):
        return False  # the API soft-deletes, keeping the history

    @admin.display(description="last delivery", ordering="last_delivery_status")
    def last_delivery_status(self, webhook):
        status = webhook.last_delivery_status
        return display.badge(status) if status else "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, webhook):
        return display.moment(webhook.created_at)

    @admin.display(description="project", ordering="project_id")
    def project(self, webhook):
        return display.short_id(webhook.project_id)

    @admin.display(description="state", ordering="is_active")
    def state(self, webhook):
        if not webhook.is_active:
            return display.badge("disabled")
        if webhook.failing_since:
            since = date_format(localtime(webhook.failing_since), "DATETIME_FORMAT")
            return display.badge("failing", f"failing since {since}")
        return display.badge("active")

    @admin.display(description="circuit breaker", ordering="circuit_open_since")
    def circuit(self, webhook):
        if webhook.circuit_open_since is None:
            return f"closed ({webhook.consecutive_failures} failures in a row)"
        since = f"{webhook.circuit_open_since:%Y-%m-%d %H:%M:%S} UTC"
        return f"open since {since}: one lane ({webhook.consecutive_failures} failures in a row)"

    @admin.display(description="URL")
    def destination(self, webhook):
        # Whole to staff who may change webhooks (as the API shows it to writers), else redacted.
        return display.webhook_url(webhook.url, webhook.url_visible)

    @admin.display(description="secret status")
    def secret_state(self, webhook):
        if webhook.secret_status == "ok":
            return "ok"
        broken = ", ".join(webhook.undecryptable_fields())
        return f"undecryptable ({broken}): needs a new secret (action: Rotate secret)"

    @admin.display(description="custom headers")
    def custom_headers(self, webhook):
        if is_undecryptable(webhook.headers):
            return "undecryptable: rotating the secret clears them"
        return wire.redacted(webhook.headers or {})

    @admin.display(description="signing secret")
    def signing_secret(self, webhook):
        # Never rendered here: only the reveal page shows it, to staff who may change webhooks.
        url = reverse("admin:webhooks_webhook_reveal_secret", args=[webhook.pk])
        return format_html('whsec_•••••••• <a class="button" href="{}">Reveal</a>', url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "can_operate": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # Through the service, as the API does; only the editable field can have changed.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        webhook_service.update_webhook(Webhook.objects.get(pk=obj.pk), **changes)

    def get_urls(self):
        reveal = self.admin_site.admin_view(self.reveal_secret_view)
        return [
            path("<path:object_id>/reveal-secret/", reveal, name="webhooks_webhook_reveal_secret"),
            *self.button_urls(),
            *super().get_urls(),
        ]

    def reveal_secret_view(self, request, object_id):
        """GET asks for confirmation; POST shows the secret once and records who saw it."""
        webhook = self.get_object(request, object_id)
        if webhook is None:
            raise Http404("No such webhook.")
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": webhook,
            "title": f"Signing secret of {webhook.name}",
            "revealed": request.method == "POST",
        }
        if request.method == "POST":
            try:
                context["secrets"] = webhook.signing_secrets(timezone.now())
            except DecryptionError as exc:
                context["error"] = str(exc)
            else:
                context["url"] = webhook.url
                self.log_change(request, webhook, "Revealed the signing secret.")
                record_secret_read(
                    webhook,
                    actor=f"staff:{request.user.get_username()}",
                    address=request.META.get("REMOTE_ADDR"),
                    via="admin",
                )
        response = TemplateResponse(request, "admin/webhooks/webhook/reveal_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test(self, request, queryset):
        webhooks = list(queryset.filter(deleted_at__isnull=True)[: MAX_TESTS_PER_ACTION + 1])
        if len(webhooks) > MAX_TESTS_PER_ACTION:
            self.message_user(
                request, f"Select at most {MAX_TESTS_PER_ACTION} webhooks to test.", messages.ERROR
            )
            return
        passed = sent = 0
        # One after another in this request's thread; once one deadline's worth of time has
        # gone to slow endpoints, the rest wait for another click (the thread is the tier's).
        budget = app_settings.DELIVERY_TIMEOUT_SECONDS
        stop_at = time.monotonic() + budget
        for number, webhook in enumerate(webhooks):
            if sent and time.monotonic() >= stop_at:
                text = (
                    f"{len(webhooks) - number} not tested: the endpoints before them used "
                    f"the action's {budget:g} s; test those again."
                )
                self.message_user(request, text, messages.WARNING)
                break
            try:
                outcome = testing.send_test(webhook)
            except PingRefused as refused:
                self.message_user(request, f"{webhook.name}: {refused.message}", messages.WARNING)
                continue
            sent += 1
            passed += outcome.succeeded
            self.message_user(request, *ping_message(webhook, outcome))
        self.message_user(request, f"Sent {sent} test events; {passed} succeeded.")

    @admin.action(description="Enable selected webhooks", permissions=["change"])
    def enable(self, request, queryset):
        changed = [
            webhook_service.update_webhook(webhook, is_active=True)
            for webhook in queryset.filter(deleted_at__isnull=True, is_active=False)
        ]
        self.message_user(request, f"Enabled {len(changed)} webhooks.")

    @admin.action(description="Disable selected webhooks", permissions=["change"])
    def disable(self, request, queryset):
        changed = [
            webhook_service.update_webhook(webhook, is_active=False)
            for webhook in queryset.filter(deleted_at__isnull=True, is_active=True)
        ]
        self.message_user(request, f"Disabled {len(changed)} webhooks.")

    @admin.action(
        description="Rotate secret (the old one signs too during the grace period)",
        permissions=["change"],
    )
    def rotate_secret(self, request, queryset):
        rotated = [
            webhook_service.regenerate_secret(webhook)
            for webhook in queryset.filter(deleted_at__isnull=True)
        ]
        self.message_user(request, f"Rotated the secret of {len(rotated)} webhooks.")

    @admin.action(
        description="Recover failed deliveries since a given time (send them again)",
        permissions=["change"],
    )
    def recover(self, request, queryset):
        """Ask for the window on an intermediate page, then recover each selected webhook."""
        webhooks = list(queryset.filter(deleted_at__isnull=True))
        form = RecoverForm.for_request(request, "apply" in request.POST)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Recover failed deliveries",
                "form": form,
                "webhooks": webhooks,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/webhooks/webhook/recover.html", context)
        total = 0
        for webhook in webhooks:
            try:
                total += recover_failed(webhook, **form.cleaned_data)
            except (RecoverWindowInvalid, RedeliveryRefused) as refused:
                self.message_user(request, f"{webhook.name}: {refused.message}", messages.ERROR)
        self.message_user(
            request, f"Re-queued {total} failed deliveries of {len(webhooks)} webhooks."
        )
        return None


@admin.register(SecretRead)
class SecretReadAdmin(admin.ModelAdmin):
    """The audit trail of secret reads: read-only, kept as long as its webhook."""

    list_display = ["created_at", "actor", "via", "address", "webhook", "project_id"]
    list_filter = ["via", "created_at"]
    list_select_related = ["webhook"]
    date_hierarchy = "created_at"
    search_fields = ["actor", "=webhook__id", "=project_id"]
    readonly_fields = ["id", "created_at", "actor", "via", "address", "webhook", "project_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
