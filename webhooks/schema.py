"""OpenAPI documentation: the authentication schemes, the error shape and required scopes."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers

from webhooks.auth import ProjectAccess, ServiceOnly, required_scope

BODY_METHODS = ("POST", "PUT", "PATCH")


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.auth.ServiceKeyAuthentication"
    name = "ServiceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Access <WEBHOOKS_AUTH_KEY>`: the service principal "
            "(Agenta's backend, cron jobs). It may use every project and endpoint.",
        }


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.auth.ApiKeyAuthentication"
    name = "ProjectApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: ApiKey <prefix>.<secret>`: a project API key, valid "
            "for its own project only, with scopes `webhooks:read`, `webhooks:write` and "
            "`events:emit`. Create one with `manage.py webhooks_create_api_key`.",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "webhooks.auth.StaffSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "A staff user's Django session (browsable API); CSRF is enforced.",
        }


class ErrorSerializer(serializers.Serializer):
    """Every error that is not about fields: `{"detail": "..."}`."""

    detail = serializers.CharField(help_text="What went wrong, for a human.")


class _ValidationErrorShape:
    """Identity of the ValidationError component."""


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field errors: each bad field maps to its messages; `non_field_errors` holds "
    "the errors about the request as a whole.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": True},
        ]
    },
    "example": {"url": ["Use an https:// URL: this service requires https."]},
}


class AutoSchema(SpectacularAutoSchema):
    """Document the error responses and the API key scope of every operation."""

    def get_description(self) -> str:
        description = super().get_description() or ""
        note = self._access_note()
        return f"{description}\n\n{note}".strip() if note else description

    def _access_note(self) -> str:
        perms = [type(p) for p in self.view.get_permissions()]
        if ServiceOnly in perms:
            return "Access: the service key or a staff session only."
        if ProjectAccess not in perms:
            return ""
        scope = required_scope(self.view, self.method)
        if scope is None:
            return "Access: the service key or a staff session; API keys may not call it."
        return f"Access: the service key, a staff session, or an API key with `{scope}`."

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, (schema, description) in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(schema, code, direction=direction) | {
                    "description": description
                }
        return responses

    def _error_responses(self) -> dict:
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        invalid = self._validation_error_ref()
        errors = {}
        if self.method in BODY_METHODS or self._is_list_view():
            errors["400"] = ({"oneOf": [invalid, error]}, "Invalid input or malformed JSON.")
        perms = [type(p) for p in self.view.get_permissions()]
        if permissions.AllowAny not in perms:
            errors["401"] = (error, "Missing or invalid credentials (see WWW-Authenticate).")
            errors["403"] = (error, "The credentials lack the scope or role this needs.")
        if "{" in self.path:
            errors["404"] = (error, "Not found, or it belongs to another project.")
        if self.method in BODY_METHODS:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            errors["413"] = (error, f"The request body is larger than {limit} bytes.")
        return errors

    def _validation_error_ref(self) -> dict:
        component = ResolvedComponent(
            name="ValidationError",
            type=ResolvedComponent.SCHEMA,
            object=_ValidationErrorShape,
            schema=VALIDATION_ERROR_SCHEMA,
        )
        self.registry.register_on_missing(component)
        return component.ref
