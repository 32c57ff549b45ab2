"""Verify an Agenta webhook delivery with the `standardwebhooks` library (pip package of that name).

Usage:
    WEBHOOK_SECRET=whsec_... python3 verify_standardwebhooks.py HEADERS_JSON BODY_FILE

HEADERS_JSON is a JSON object of the request headers (any letter case); BODY_FILE holds the raw
request body exactly as received. Prints "verified" and exits 0 when the delivery is authentic and
fresh; exits 1 with the reason otherwise (2 on a usage error). The library checks the timestamp
against its own clock (5 minutes either way), so VERIFY_NOW is refused here: replay an old saved
delivery with verify_hmac.py instead.

In a web handler, pass the RAW body bytes, before any JSON parsing. FastAPI:

    webhook = Webhook(os.environ["WEBHOOK_SECRET"])

    @app.post("/webhooks/agenta", status_code=204)
    async def agenta_webhook(request: Request) -> None:
        body = await request.body()  # the raw bytes, not a pydantic model
        try:
            event = webhook.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            raise HTTPException(400, "invalid signature")  # never 410: that disables the webhook
        if await seen_before(request.headers["webhook-id"]):  # retries repeat the same webhook-id
            return
        await enqueue(event)  # answer within 10 seconds; do slow work elsewhere
"""

import json
import os
import sys

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def main(argv: list[str]) -> int:
    """Verify the delivery saved in argv's files; return the exit status."""
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if len(argv) != 3 or not secret:
        print(
            "usage: WEBHOOK_SECRET=whsec_... verify_standardwebhooks.py HEADERS_JSON BODY_FILE",
            file=sys.stderr,
        )
        return 2
    if os.environ.get("VERIFY_NOW"):
        print("VERIFY_NOW is not supported by the library; use verify_hmac.py", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as file:
        headers = json.load(file)
    with open(argv[2], "rb") as file:
        body = file.read()
    try:
        Webhook(secret).verify(body, headers)
    # The library raises ValueError (not its own error) for a malformed signature or secret.
    except (WebhookVerificationError, ValueError) as exc:
        print(f"not verified: {exc}", file=sys.stderr)
        return 1
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
