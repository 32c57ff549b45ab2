"""What the checks share: the error shape and the number test."""

from numbers import Real

from django.core.checks import Error


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _error(id_: str, msg: str, hint: str) -> Error:
    return Error(msg, hint=hint, obj="settings.WEBHOOKS", id=id_)
