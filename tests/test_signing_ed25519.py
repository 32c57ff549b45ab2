"""Standard Webhooks v1a (ed25519): keys, signatures, the JWK of the public key."""

import base64

import pytest

from webhooks import signing
from webhooks.signing import VerificationError

# RFC 8032 section 7.1, test 1: the private key (seed) and its public key.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_KEY = "whsk_" + base64.b64encode(RFC8032_SEED).decode()
NOW = 1_764_000_000
BODY = '{"type":"config.deployed"}'


def headers(key: str, *, msg_id: str = "msg_1", ts: int = NOW, body: str = BODY) -> dict:
    return signing.sign_headers([], msg_id, body, ts, signing_keys=[key])


def test_the_public_key_and_its_jwk_match_the_rfc_vectors():
    assert signing.public_key(RFC8032_KEY) == "whpk_" + base64.b64encode(RFC8032_PUBLIC).decode()
    jwk = signing.public_jwk(RFC8032_KEY)
    # RFC 8037 appendix A.2 (x) and A.3 (the RFC 7638 thumbprint) for this very key.
    assert jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert jwk["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")


def test_a_v1a_signature_verifies_with_the_public_key_alone():
    key = signing.generate_signing_key()
    signed = headers(key)
    assert signed["webhook-signature"].startswith("v1a,")
    signing.verify_ed25519(signing.public_key(key), signed, BODY, now=NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY.replace("deployed", "deleted")},
        {"msg_id": "msg_2"},
    ],
)
def test_a_changed_body_or_id_does_not_verify(change):
    key = signing.generate_signing_key()
    signed = headers(key)
    body = change.get("body", BODY)
    if "msg_id" in change:
        signed["webhook-id"] = change["msg_id"]
    with pytest.raises(VerificationError, match="no signature"):
        signing.verify_ed25519(signing.public_key(key), signed, body, now=NOW)


def test_another_key_a_stale_timestamp_and_a_v1_signature_do_not_verify():
    key, other = signing.generate_signing_key(), signing.generate_signing_key()
    with pytest.raises(VerificationError, match="no signature"):
        signing.verify_ed25519(signing.public_key(other), headers(key), BODY, now=NOW)
    with pytest.raises(VerificationError, match="timestamp"):
        signing.verify_ed25519(signing.public_key(key), headers(key), BODY, now=NOW + 301)
    hmac_only = signing.sign_headers([signing.generate_secret()], "msg_1", BODY, NOW)
    with pytest.raises(VerificationError, match="no signature"):
        signing.verify_ed25519(signing.public_key(key), hmac_only, BODY, now=NOW)


def test_both_schemes_and_both_keys_of_a_rotation_share_one_header():
    secret, old, new = (
        signing.generate_secret(),
        signing.generate_signing_key(),
        signing.generate_signing_key(),
    )
    signed = signing.sign_headers([secret], "msg_1", BODY, NOW, signing_keys=[new, old])
    schemes = [s.split(",", 1)[0] for s in signed["webhook-signature"].split(" ")]
    assert schemes == ["v1", "v1a", "v1a"]
    signing.verify(secret, signed, BODY, now=NOW)
    for key in (old, new):
        signing.verify_ed25519(signing.public_key(key), signed, BODY, now=NOW)


def test_a_malformed_key_is_refused():
    with pytest.raises(ValueError, match="whsk_"):
        signing.sign_ed25519("whsk_bm90IGEga2V5", "msg_1", NOW, BODY)
