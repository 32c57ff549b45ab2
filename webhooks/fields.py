"""Model fields: text and JSON encrypted at rest."""

import json

from django.db import models

from webhooks import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code only ever sees the plain value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token (custom headers may carry bearer tokens)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return json.loads(crypto.decrypt(value))

    def get_prep_value(self, value):
        if value is None:
            return value
        return crypto.encrypt(json.dumps(value, separators=(",", ":")))

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))
