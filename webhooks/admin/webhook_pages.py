"""The webhook change page's buttons: test, enable / disable and recover, each one service call.

The same services as the API's POST .../test, PATCH {"is_active"} and POST .../recover.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from webhooks import wire
from webhooks.services import testing
from webhooks.services import webhooks as webhook_service
from webhooks.services.ping_throttle import PingRefused
from webhooks.services.redelivery import RecoverWindowInvalid, RedeliveryRefused, recover_failed


class RecoverForm(forms.Form):
    """The window of a recover: failed deliveries of real events created in [since, until)."""

    since = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC; empty means RECOVER_DEFAULT_DAYS (1 day) ago.",
    )
    until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC; empty means now.",
    )

    @classmethod
    def for_request(cls, request, submitted: bool) -> "RecoverForm":
        since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        return cls(request.POST if submitted else None, initial={"since": since})


def ping_message(webhook, outcome) -> tuple[str, int]:
    """Return the message and level that report a test ping's outcome."""
    error = wire.redacted_error(outcome.error)
    answer = f"HTTP {outcome.status_code}" if outcome.status_code else error
    level = messages.SUCCESS if outcome.succeeded else messages.WARNING
    return f"{webhook.name}: {answer} in {outcome.duration_ms or 0} ms.", level


class WebhookButtons:
    """A ModelAdmin mixin: the per-webhook pages behind the change page's buttons."""

    def button_urls(self) -> list:
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("<path:object_id>/test/", view(self.test_view), name="webhooks_webhook_test"),
            path(
                "<path:object_id>/active/", view(self.active_view), name="webhooks_webhook_active"
            ),
            path(
                "<path:object_id>/recover/",
                view(self.recover_view),
                name="webhooks_webhook_recover",
            ),
        ]

    def _writable(self, request, object_id):
        webhook = self.get_object(request, object_id)
        if webhook is None or webhook.deleted_at:
            raise Http404("No such webhook.")
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        return webhook

    def test_view(self, request, object_id):
        """POST: send a test ping now and report what the endpoint answered."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._writable(request, object_id)
        try:
            outcome = testing.send_test(webhook)
        except PingRefused as refused:
            self.message_user(request, f"{webhook.name}: {refused.message}", messages.WARNING)
        else:
            self.message_user(request, *ping_message(webhook, outcome))
        return redirect("admin:webhooks_webhook_change", webhook.pk)

    def active_view(self, request, object_id):
        """POST is_active=1 or 0: enable or disable the webhook."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._writable(request, object_id)
        active = request.POST.get("is_active") == "1"
        webhook_service.update_webhook(webhook, is_active=active)
        self.log_change(request, webhook, "Enabled." if active else "Disabled.")
        self.message_user(request, f"{'Enabled' if active else 'Disabled'} {webhook.name}.")
        return redirect("admin:webhooks_webhook_change", webhook.pk)

    def recover_view(self, request, object_id):
        """GET asks for the window; POST re-queues the failed deliveries in it."""
        webhook = self._writable(request, object_id)
        form = RecoverForm.for_request(request, request.method == "POST")
        if form.is_valid() and self._recover(request, webhook, form):
            return redirect("admin:webhooks_webhook_change", webhook.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": webhook,
            "title": f"Recover failed deliveries of {webhook.name}",
            "form": form,
            "webhooks": [webhook],
        }
        return TemplateResponse(request, "admin/webhooks/webhook/recover.html", context)

    def _recover(self, request, webhook, form) -> bool:
        """Recover the form's window; return False when the window needs correcting."""
        try:
            count = recover_failed(webhook, **form.cleaned_data)
        except RecoverWindowInvalid as invalid:
            form.add_error(invalid.field, invalid.message)
            return False
        except RedeliveryRefused as refused:
            self.message_user(request, f"{webhook.name}: {refused.message}", messages.ERROR)
            return True
        self.log_change(request, webhook, f"Recovered {count} failed deliveries.")
        self.message_user(request, f"Re-queued {count} failed deliveries of {webhook.name}.")
        return True
