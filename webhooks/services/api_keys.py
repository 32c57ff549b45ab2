"""Create, check and revoke project API keys (<prefix>.<secret>; only a sha256 is stored)."""

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from webhooks.models import ApiKey

KEY_PREFIX = "ak_"
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")  # the shape of ApiKey.prefix
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(project_id: uuid.UUID, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its plain value, which is never shown again."""
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    prefix = KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        project_id=project_id,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret),
        scopes=sorted(set(scopes)),
    )
    return key, f"{prefix}.{secret}"


def authenticate_api_key(presented: str) -> ApiKey | None:
    """Return the live key that presented is, or None; compares in constant time."""
    prefix, _, secret = presented.partition(".")
    if not _PREFIX.match(prefix) or not secret:
        return None  # not a key of ours (nor a string PostgreSQL could compare: NUL bytes)
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    # Hash even when no key matched, so timing does not reveal which prefixes exist.
    expected = key.secret_hash if key else "0" * 64
    if not hmac.compare_digest(_digest(secret), expected) or key is None:
        return None
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), id=key.id
    ).update(last_used_at=now)
    key.last_used_at = now


def revoke_api_key(key: ApiKey) -> bool:
    """Revoke key; return False when it was already revoked."""
    updated = ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(updated)
