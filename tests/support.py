"""Helpers shared by test modules: polling with a deadline, and matching documented output."""

import time

from cryptography.fernet import Fernet
from django.db import connection

ANY = "…"  # in a documented example: a value that differs on every run


def wait_for(predicate, timeout: float, what: str):
    """Return predicate()'s first truthy value, polling until timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def matches(expected, actual) -> bool:
    """Compare documented output with real output; the string … matches any value."""
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(expected[k], actual[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def spoil_secret(webhook) -> None:
    """Store a secret that no configured key decrypts (a key dropped from the settings)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE webhooks_webhook SET secret = %s WHERE id = %s",
            [Fernet(Fernet.generate_key()).encrypt(b"whsec_lost").decode(), webhook.pk],
        )
