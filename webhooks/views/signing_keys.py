"""A webhook's ed25519 public keys (a JWKS-style document) and the rotation of its signing key."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks import signing
from webhooks.serializers.signing_keys import (
    PublicKeysSerializer,
    RotatedSigningKeySerializer,
    RotateSigningKeySerializer,
)
from webhooks.services import webhooks as service
from webhooks.views.deliveries import WebhookScoped


@extend_schema(tags=["webhooks"])
class SigningKeysView(WebhookScoped, APIView):
    """GET: the public keys that verify the webhook's v1a signatures now, as a JWKS."""

    @extend_schema(
        operation_id="webhooks_signing_keys",
        summary="Show the public signing keys (JWKS)",
        responses={200: PublicKeysSerializer},
    )
    def get(self, request, project_id, webhook_id):
        webhook = self.get_webhook()
        keys = webhook.published_keys(timezone.now())
        return Response(PublicKeysSerializer({"keys": keys}).data)


@extend_schema(tags=["webhooks"])
class RotateSigningKeyView(WebhookScoped, APIView):
    """POST: a new ed25519 signing key; the old one signs on (and stays listed) for the grace."""

    @extend_schema(
        operation_id="webhooks_rotate_signing_key",
        summary="Rotate the ed25519 signing key",
        request=RotateSigningKeySerializer,
        responses={200: RotatedSigningKeySerializer},
    )
    def post(self, request, project_id, webhook_id):
        webhook = self.get_webhook()
        body = RotateSigningKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = service.rotate_signing_key(
            webhook, body.validated_data.get("grace_period_seconds")
        )
        data = {
            "public_key": signing.public_key(webhook.signing_key),
            "kid": signing.public_jwk(webhook.signing_key)["kid"],
            "previous_signing_key_expires_at": webhook.previous_signing_key_expires_at,
        }
        return Response(RotatedSigningKeySerializer(data).data)
