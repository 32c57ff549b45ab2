"""Model fields: text and JSON encrypted at rest; a value no key decrypts loads as a token."""

import json

from django.db import models

from webhooks import crypto


class EncryptedToken:
    """A value in its stored, encrypted form; written back as is, never encrypted again.

    Loading gives one when no configured key decrypts the column: it is shown as undecryptable
    and never sent, yet loading the row does not raise, so the API, the admin and the sweeps
    keep working, and saving the row keeps the token (adding the old key back recovers it).
    Key rotation writes re-encrypted tokens through it.
    """

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    def __eq__(self, other) -> bool:
        return isinstance(other, EncryptedToken) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return "<undecryptable>"

    __str__ = __repr__


def is_undecryptable(value) -> bool:
    """Return whether a loaded field value could not be decrypted."""
    return isinstance(value, EncryptedToken)


def _decrypt(token: str) -> str | EncryptedToken:
    try:
        return crypto.decrypt(token)
    except crypto.DecryptionError:
        return EncryptedToken(token)


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code only ever sees the plain value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return _decrypt(value)

    def get_prep_value(self, value):
        if isinstance(value, EncryptedToken):
            return value.token
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token (custom headers may carry bearer tokens)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        plain = _decrypt(value)
        return plain if isinstance(plain, EncryptedToken) else json.loads(plain)

    def get_prep_value(self, value):
        if value is None:
            return value
        if isinstance(value, EncryptedToken):
            return value.token
        return crypto.encrypt(json.dumps(value, separators=(",", ":")))

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return str(value) if isinstance(value, EncryptedToken) else json.dumps(value)
