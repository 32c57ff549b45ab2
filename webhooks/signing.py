"""Standard Webhooks signing and verifying (v1 HMAC, v1a ed25519); pure functions, no Django."""

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SECRET_PREFIX = "whsec_"
SIGNING_KEY_PREFIX = "whsk_"  # + base64 of the 32-byte ed25519 private key (its seed)
PUBLIC_KEY_PREFIX = "whpk_"  # + base64 of the 32-byte ed25519 public key
SECRET_BYTES = 32
DEFAULT_TOLERANCE_SECONDS = 5 * 60
HMAC_SCHEME, ED25519_SCHEME = "v1", "v1a"
SCHEMES = (HMAC_SCHEME, ED25519_SCHEME)


class VerificationError(Exception):
    """The headers do not prove that the body came from the holder of the secret."""


def generate_secret() -> str:
    """Return a new webhook secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """Return one 'v1,<base64 HMAC-SHA256>' signature of '<msg_id>.<timestamp>.<body>'."""
    payload = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def generate_signing_key() -> str:
    """Return a new ed25519 signing key: whsk_ + base64 of its 32 private bytes."""
    return SIGNING_KEY_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@functools.lru_cache(maxsize=1024)
def _private_key(signing_key: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(signing_key.removeprefix(SIGNING_KEY_PREFIX), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise ValueError("a signing key is whsk_ followed by base64 of 32 bytes") from exc


def _public_bytes(signing_key: str) -> bytes:
    return _private_key(signing_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key(signing_key: str) -> str:
    """Return the whpk_ public key that verifies what signing_key signs."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(_public_bytes(signing_key)).decode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(signing_key: str) -> dict[str, str]:
    """Return the public key as a JWK (RFC 8037 OKP), kid its RFC 7638 thumbprint."""
    x = _b64url(_public_bytes(signing_key))
    # The thumbprint hashes the required members, sorted, without whitespace (RFC 7638).
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def sign_ed25519(signing_key: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """Return one 'v1a,<base64 ed25519 signature>' of '<msg_id>.<timestamp>.<body>'."""
    payload = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + payload
    return "v1a," + base64.b64encode(_private_key(signing_key).sign(content)).decode()


def signature_header(
    secrets_: Iterable[str],
    msg_id: str,
    timestamp: int,
    body: str | bytes,
    signing_keys: Iterable[str] = (),
) -> str:
    """Return the webhook-signature value: v1 per secret, then v1a per key, space-separated."""
    signatures = [sign(secret, msg_id, timestamp, body) for secret in secrets_]
    signatures += [sign_ed25519(key, msg_id, timestamp, body) for key in signing_keys]
    return " ".join(signatures)


def sign_headers(
    secrets_: Iterable[str],
    msg_id: str,
    body: str | bytes,
    timestamp: int | None = None,
    signing_keys: Iterable[str] = (),
) -> dict[str, str]:
    """Return the webhook-id, webhook-timestamp and webhook-signature headers for body."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature_header(secrets_, msg_id, ts, body, signing_keys),
    }


def _signed_parts(
    headers: dict[str, str], tolerance_seconds: int, now: int | None
) -> tuple[str, int, list[str]]:
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        signatures = lower["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise VerificationError("missing or malformed webhook-* headers") from exc
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise VerificationError("timestamp outside the tolerance window")
    return msg_id, timestamp, signatures


def verify_ed25519(
    public_key_: str,
    headers: dict[str, str],
    body: str | bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> None:
    """Raise VerificationError unless headers carry a fresh v1a signature by public_key_."""
    msg_id, timestamp, signatures = _signed_parts(headers, tolerance_seconds, now)
    try:
        raw = base64.b64decode(public_key_.removeprefix(PUBLIC_KEY_PREFIX), validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ValueError("a public key is whpk_ followed by base64 of 32 bytes") from exc
    payload = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + payload
    for candidate in signatures:
        scheme, _, signature = candidate.partition(",")
        if scheme != ED25519_SCHEME:
            continue
        try:
            key.verify(base64.b64decode(signature, validate=True), content)
        except (InvalidSignature, ValueError):
            continue
        return
    raise VerificationError("no signature matches")


def verify(
    secret: str,
    headers: dict[str, str],
    body: str | bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: int | None = None,
) -> None:
    """Raise VerificationError unless headers carry a fresh signature of body under secret."""
    msg_id, timestamp, signatures = _signed_parts(headers, tolerance_seconds, now)
    expected = sign(secret, msg_id, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures):
        raise VerificationError("no signature matches")
