"""CPU per signature and per verification, v1 (HMAC-SHA256) next to v1a (ed25519):
`python -m tests.bench.signing`.

Pure functions over the docs' sample body (docs/examples/sample/body.json), timed with
`time.process_time` in one thread; no Django, database or network. Sign is what the sender adds
to an attempt per secret or key (the ed25519 key is parsed once and cached, as in the service);
verify is what a receiver pays per request, with the key parsed once.
"""

import argparse
import base64
import hashlib
import hmac
import statistics
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from webhooks import signing

BODY = (Path(__file__).resolve().parents[2] / "docs/examples/sample/body.json").read_bytes()
MSG_ID, TIMESTAMP = "01a2246b-4550-73e6-ada1-dfad1df38f51", 1_764_000_000


def _per_call_us(function, calls: int, runs: int) -> float:
    function()  # warm-up: caches, the key's parse
    timings = []
    for _ in range(runs):
        started = time.process_time()
        for _ in range(calls):
            function()
        timings.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(timings)


def measure(calls: int = 5000, runs: int = 5) -> dict[str, float]:
    """Return {operation: median microseconds of CPU per call}."""
    secret, key = signing.generate_secret(), signing.generate_signing_key()
    hmac_signature = signing.sign(secret, MSG_ID, TIMESTAMP, BODY).encode()
    ed_signature = signing.sign_ed25519(key, MSG_ID, TIMESTAMP, BODY).split(",", 1)[1]
    raw_key = base64.b64decode(signing.public_key(key).removeprefix("whpk_"))
    public = Ed25519PublicKey.from_public_bytes(raw_key)
    hmac_key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY

    def hmac_verify() -> None:
        digest = hmac.new(hmac_key, content, hashlib.sha256).digest()
        assert hmac.compare_digest(b"v1," + base64.b64encode(digest), hmac_signature)

    def ed_verify() -> None:
        public.verify(base64.b64decode(ed_signature), content)

    return {
        "v1 sign (HMAC-SHA256)": _per_call_us(
            lambda: signing.sign(secret, MSG_ID, TIMESTAMP, BODY), calls, runs
        ),
        "v1 verify": _per_call_us(hmac_verify, calls, runs),
        "v1a sign (ed25519)": _per_call_us(
            lambda: signing.sign_ed25519(key, MSG_ID, TIMESTAMP, BODY), calls, runs
        ),
        "v1a verify": _per_call_us(ed_verify, calls, runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    print(f"body: {len(BODY)} bytes; median of {options.runs} runs of {options.calls} calls")
    for name, micros in measure(options.calls, options.runs).items():
        print(f"{name:24} {micros:8.1f} us CPU per call")


if __name__ == "__main__":
    main()
