"""Verify an Agenta webhook's v1a (ed25519) signature with its public key only (`cryptography`).

Usage:
    WEBHOOK_PUBLIC_KEYS="whpk_... [whpk_...]" python3 verify.py HEADERS_JSON BODY_FILE

WEBHOOK_PUBLIC_KEYS lists the public keys you trust, space-separated: the `public_key` of each entry
of GET /api/projects/{project_id}/webhooks/{webhook_id}/signing-keys (during a key rotation, keep
the old one listed until you have the new one). HEADERS_JSON is a JSON object of the request
headers (any letter case); BODY_FILE holds the raw request body exactly as received. Prints
"verified" and exits 0 when the delivery is authentic and fresh; exits 1 with the reason otherwise
(2 on a usage error). Set VERIFY_NOW (unix seconds) to replay a saved delivery as if it were then.

No secret is needed, and none can be leaked here: a public key verifies, it can't sign.
"""

import base64
import binascii
import json
import os
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECONDS = 5 * 60
PUBLIC_KEY_PREFIX = "whpk_"


class InvalidWebhook(Exception):
    """The request does not prove it came from the holder of a trusted key."""


def verify(public_keys: list[str], headers: dict, body: bytes, now: int | None = None) -> None:
    """Raise InvalidWebhook unless headers carry a fresh v1a signature of body by a listed key."""
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get("webhook-id")
    timestamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise InvalidWebhook("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not timestamp.isdigit():
        raise InvalidWebhook("webhook-timestamp is not unix seconds")
    current = int(time.time()) if now is None else now
    if abs(current - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidWebhook("webhook-timestamp is more than 5 minutes away from now")
    keys = []
    for encoded in public_keys:
        try:
            raw = base64.b64decode(encoded.removeprefix(PUBLIC_KEY_PREFIX), validate=True)
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
        except (ValueError, binascii.Error) as exc:
            raise InvalidWebhook(f"{encoded!r} is not whpk_ followed by base64") from exc
    signed = f"{msg_id}.{timestamp}.".encode() + body
    # During a key rotation the header holds a signature by each key, space-separated.
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version != "v1a":
            continue  # a v1 (HMAC) signature, for receivers that hold the secret
        try:
            raw_signature = base64.b64decode(signature, validate=True)
        except binascii.Error:
            continue
        for key in keys:
            try:
                key.verify(raw_signature, signed)
            except InvalidSignature:
                continue
            return
    raise InvalidWebhook("no v1a signature matches this body and these public keys")


def main(argv: list[str]) -> int:
    """Verify the delivery saved in argv's files; return the exit status."""
    public_keys = os.environ.get("WEBHOOK_PUBLIC_KEYS", "").split()
    if len(argv) != 3 or not public_keys:
        print(
            'usage: WEBHOOK_PUBLIC_KEYS="whpk_..." python3 verify.py HEADERS_JSON BODY_FILE',
            file=sys.stderr,
        )
        return 2
    with open(argv[1], encoding="utf-8") as file:
        headers = json.load(file)
    with open(argv[2], "rb") as file:
        body = file.read()  # the raw bytes: never json.loads and dumps them again
    now = int(os.environ["VERIFY_NOW"]) if os.environ.get("VERIFY_NOW") else None
    try:
        verify(public_keys, headers, body, now)
    except InvalidWebhook as exc:
        print(f"not verified: {exc}", file=sys.stderr)
        return 1
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
