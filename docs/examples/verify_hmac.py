"""Verify an Agenta webhook delivery with the Python standard library only (hmac + hashlib).

Usage:
    WEBHOOK_SECRET=whsec_... python3 verify_hmac.py HEADERS_JSON BODY_FILE

HEADERS_JSON is a JSON object of the request headers (any letter case); BODY_FILE holds the raw
request body exactly as received. Prints "verified" and exits 0 when the delivery is authentic and
fresh; exits 1 with the reason otherwise (2 on a usage error). Set VERIFY_NOW (unix seconds) to
replay a saved delivery as if it were that time.

In a web handler, call verify() with the headers and the RAW body bytes, before parsing JSON.
Flask:

    @app.post("/webhooks/agenta")
    def agenta_webhook():
        body = request.get_data()  # the raw bytes, not request.json
        try:
            verify(os.environ["WEBHOOK_SECRET"], dict(request.headers), body)
        except InvalidWebhook:
            return "invalid signature", 400  # never 410: that disables the webhook
        if seen_before(request.headers["webhook-id"]):  # retries repeat the same webhook-id
            return "", 204
        enqueue(json.loads(body))  # answer within 10 seconds; do slow work elsewhere
        return "", 204
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"


class InvalidWebhook(Exception):
    """The request does not prove it was sent, recently, by the holder of the secret."""


def verify(secret: str, headers: dict[str, str], body: bytes, now: int | None = None) -> None:
    """Raise InvalidWebhook unless headers carry a fresh v1 signature of body under secret."""
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get("webhook-id")
    timestamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise InvalidWebhook("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not timestamp.isdigit():
        raise InvalidWebhook("webhook-timestamp is not unix seconds")
    current = int(time.time()) if now is None else now
    if abs(current - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidWebhook("webhook-timestamp is more than 5 minutes away from now")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise InvalidWebhook("the secret is not whsec_ followed by base64") from exc
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    # During a secret rotation the header holds several space-separated signatures.
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        # compare_digest takes as long whatever the bytes, so timing leaks nothing.
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return
    raise InvalidWebhook("no signature matches this body and secret")


def main(argv: list[str]) -> int:
    """Verify the delivery saved in argv's files; return the exit status."""
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if len(argv) != 3 or not secret:
        print(
            "usage: WEBHOOK_SECRET=whsec_... verify_hmac.py HEADERS_JSON BODY_FILE", file=sys.stderr
        )
        return 2
    with open(argv[1], encoding="utf-8") as file:
        headers = json.load(file)
    with open(argv[2], "rb") as file:
        body = file.read()
    now = int(os.environ["VERIFY_NOW"]) if os.environ.get("VERIFY_NOW") else None
    try:
        verify(secret, headers, body, now=now)
    except InvalidWebhook as exc:
        print(f"not verified: {exc}", file=sys.stderr)
        return 1
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
