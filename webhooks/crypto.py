"""Encryption at rest for webhook secrets (MultiFernet keyed from WEBHOOKS_ENCRYPTION_KEYS)."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def _fernet_key(material: str) -> bytes:
    # Any string works as key material: it is stretched to the 32 bytes Fernet needs.
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


def encryption_keys() -> list[str]:
    """Return the configured key material, newest first (SECRET_KEY in the embedded mode)."""
    keys = [k for k in getattr(settings, "WEBHOOKS_ENCRYPTION_KEYS", []) if k]
    return keys or [settings.SECRET_KEY]


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def _cipher() -> MultiFernet:
    return _multifernet(tuple(encryption_keys()))


def encrypt(plain: str) -> str:
    """Return the token that stores plain at rest."""
    return _cipher().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Return the plain text behind a stored token."""
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("no configured encryption key decrypts this value") from exc


def is_current(token: str) -> bool:
    """Return whether token is encrypted under the newest (first) key."""
    try:
        _multifernet(tuple(encryption_keys()[:1])).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """Return token re-encrypted under the newest key."""
    try:
        return _cipher().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("no configured encryption key decrypts this value") from exc
