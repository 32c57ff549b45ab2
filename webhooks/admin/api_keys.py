"""API key admin: create (the key is shown once) and revoke."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from webhooks.models import ApiKey
from webhooks.services.api_keys import create_api_key, revoke_api_key


class ApiKeyCreationForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["project_id", "name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "project_id", "scopes", "created_at", "last_used_at", "live"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "=prefix", "=project_id"]
    readonly_fields = [
        "id",
        "project_id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    @admin.display(boolean=True, description="live")
    def live(self, key):
        return key.revoked_at is None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ApiKeyCreationForm.Meta.fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so the key's history stays

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False}
        extra_context |= {"show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable once created
        key, plain = create_api_key(obj.project_id, obj.name, obj.scopes)
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        request._created_api_key = plain  # shown once by response_add, never stored

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": f"API key {obj.name} created",
            "plain_key": request._created_api_key,
        }
        response = TemplateResponse(request, "admin/webhooks/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(revoke_api_key(key) for key in queryset)
        self.message_user(request, f"Revoked {revoked} API keys.")
