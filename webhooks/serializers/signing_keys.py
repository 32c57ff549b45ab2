"""The signing keys' API shapes: the scheme choice, the public keys document, a rotation."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks import signing
from webhooks.serializers import RejectUnknownFieldsMixin
from webhooks.services.webhooks import MAX_GRACE_PERIOD_SECONDS


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(signing.SCHEMES)},
        "minItems": 1,
        "maxItems": 2,
        "uniqueItems": True,
        "description": 'Standard Webhooks signatures each delivery carries: "v1" (HMAC-SHA256 '
        'with the secret) and/or "v1a" (ed25519, verified with the public key alone, see '
        'GET .../signing-keys). Default ["v1"].',
        "example": ["v1", "v1a"],
    }
)
class SignatureSchemesField(serializers.JSONField):
    def to_internal_value(self, data):
        if not isinstance(data, list) or not data or not all(isinstance(x, str) for x in data):
            raise serializers.ValidationError('A non-empty list of "v1" and "v1a".')
        unknown = sorted(set(data) - set(signing.SCHEMES))
        if unknown:
            raise serializers.ValidationError(
                f'Unknown scheme {unknown[0]!r}: choose from "v1" and "v1a".'
            )
        return [scheme for scheme in signing.SCHEMES if scheme in data]


class RotateSigningKeySerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    grace_period_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_PERIOD_SECONDS,
        help_text="How long the previous key keeps signing, and stays listed (default 86400).",
    )


class RotatedSigningKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(read_only=True, help_text="The new whpk_ public key.")
    kid = serializers.CharField(
        read_only=True, help_text="The new key's id in GET .../signing-keys."
    )
    previous_signing_key_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the previous key stops signing; null when it stopped at once.",
    )


class PublicJwkSerializer(serializers.Serializer):
    kty = serializers.CharField(help_text='"OKP" (RFC 8037).')
    crv = serializers.CharField(help_text='"Ed25519".')
    x = serializers.CharField(help_text="base64url of the 32-byte public key, unpadded.")
    kid = serializers.CharField(help_text="The RFC 7638 thumbprint of the key.")
    alg = serializers.CharField(help_text='"EdDSA".')
    use = serializers.CharField(help_text='"sig".')
    public_key = serializers.CharField(
        help_text="The same key as Standard Webhooks spells it: whpk_ + base64."
    )
    status = serializers.CharField(
        help_text='"current", or "previous": the key before a rotation, signing until expires_at.'
    )
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When a previous key stops signing; null for the current one."
    )


class PublicKeysSerializer(serializers.Serializer):
    keys = PublicJwkSerializer(
        many=True, help_text="The keys that sign this webhook's v1a signatures now, current first."
    )
