"""Standard Webhooks signing: golden vector, rotation, and a cross-check with standardwebhooks."""

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks import signing

# The example from the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_golden_vector_from_the_spec():
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_generated_secrets_have_32_random_bytes():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_")
    assert len(signing._key(secret)) == 32
    assert secret != signing.generate_secret()


def test_standardwebhooks_library_accepts_our_headers():
    secret, body = signing.generate_secret(), '{"type":"config.deployed","data":{"é":1}}'
    headers = signing.sign_headers([secret], "0190-delivery", body)
    assert StandardWebhook(secret).verify(body, headers) == {
        "type": "config.deployed",
        "data": {"é": 1},
    }


def test_rotation_signs_with_both_secrets_and_each_verifies():
    new, old, other = (signing.generate_secret() for _ in range(3))
    body = '{"a":1}'
    headers = signing.sign_headers([new, old], "msg_1", body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        StandardWebhook(secret).verify(body, headers)
        signing.verify(secret, headers, body)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(other).verify(body, headers)
    with pytest.raises(signing.VerificationError):
        signing.verify(other, headers, body)


def test_verify_rejects_a_tampered_body_and_a_stale_timestamp():
    secret = signing.generate_secret()
    headers = signing.sign_headers([secret], "msg_1", '{"a":1}', timestamp=1_700_000_000)
    with pytest.raises(signing.VerificationError, match="no signature"):
        signing.verify(secret, headers, '{"a":2}', now=1_700_000_000)
    with pytest.raises(signing.VerificationError, match="tolerance"):
        signing.verify(secret, headers, '{"a":1}', now=1_700_000_000 + 301)
    signing.verify(secret, headers, '{"a":1}', now=1_700_000_000 + 299)


def test_verify_rejects_missing_headers():
    with pytest.raises(signing.VerificationError, match="missing"):
        signing.verify(signing.generate_secret(), {"webhook-id": "x"}, "{}")
