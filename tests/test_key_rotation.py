"""Key rotation that ends: re-encrypt under the newest key, drop the old one, keep delivering."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import ProgrammingError
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from tests.factories import DeliveryFactory, WebhookFactory
from webhooks import checks, crypto
from webhooks.engine.lanes import deliver
from webhooks.models import Webhook
from webhooks.services import key_rotation

pytestmark = pytest.mark.django_db

OLD, NEW = "old-encryption-key", "new-encryption-key"


@pytest.fixture
def stored_under_old_key(settings, receiver):
    """Seven webhooks (one with a secret in its grace period) encrypted under OLD only."""
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD]
    hooks = [
        WebhookFactory(url=receiver.url(f"/hook/{n}"), headers={"X-Token": f"t{n}"})
        for n in range(7)
    ]
    Webhook.objects.filter(id=hooks[0].id).update(
        previous_secret="whsec_" + "A" * 43 + "=",
        previous_secret_expires_at=timezone.now() + timedelta(hours=1),
    )
    return hooks


def _rotate(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("webhooks_rotate_encryption_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_after_rotating_the_old_key_can_be_removed_and_every_webhook_still_delivers(
    settings, stored_under_old_key, receiver
):
    # given the new key first and the old one still listed
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW, OLD]

    out, err = _rotate("--batch-size", "3")

    # then it worked in three batches and reported each
    assert out.count("batch ") == 3
    # 7 URLs + 7 headers + 7 secrets + 1 previous secret
    assert out.splitlines()[-1] == (
        "Examined 7 webhooks in 3 batches: re-encrypted 22 values, "
        "0 already under the newest key, 0 undecryptable."
    )
    assert err == ""

    # when the old key is removed
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW]

    # then every value still decrypts, and every webhook still delivers, signed and with headers
    assert checks.check_stored_secrets_decrypt(databases=["default"]) == []
    for webhook in Webhook.objects.order_by("id"):
        assert webhook.undecryptable_fields() == []
        attempt = deliver(DeliveryFactory(webhook=webhook).id)
        assert attempt.response_status == 200, attempt.error_message
    received = receiver.wait_for(7)
    by_path = {got.path: got for got in received}
    for n, webhook in enumerate(stored_under_old_key):
        got = by_path[f"/hook/{n}"]
        StandardWebhook(webhook.secret).verify(got.body, got.headers)
        assert got.headers["x-token"] == f"t{n}"
    assert len(by_path["/hook/0"].headers["webhook-signature"].split()) == 2  # grace secret too


def test_a_second_run_has_nothing_left_and_after_resumes_from_an_id(settings, stored_under_old_key):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW, OLD]
    third = sorted(webhook.id for webhook in stored_under_old_key)[2]

    resumed, _ = _rotate("--after", str(third))
    again, _ = _rotate()

    assert resumed.splitlines()[-1].startswith("Examined 4 webhooks")
    assert "re-encrypted 12 values" in resumed  # 4 x (URL, headers, secret)
    assert "re-encrypted 10 values, 12 already under the newest key" in again


def test_values_no_key_decrypts_are_left_alone_and_reported(settings, stored_under_old_key):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW]  # the old key is gone too early

    out, err = _rotate()

    assert "re-encrypted 0 values" in out and "22 undecryptable" in out
    assert "WEBHOOKS_ENCRYPTION_KEYS" in err
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW, OLD]  # putting it back still recovers them
    assert Webhook.objects.get(id=stored_under_old_key[0].id).headers == {"X-Token": "t0"}


def test_rotate_refuses_a_token_no_key_decrypts(settings):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt("plain")
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW, OLD]
    assert not crypto.is_current(token)
    assert crypto.is_current(crypto.rotate(token))
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.DecryptionError):
        crypto.rotate(token)


def test_the_check_names_the_variable_when_no_stored_secret_decrypts(settings):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD]
    hooks = [WebhookFactory(), WebhookFactory()]
    settings.WEBHOOKS_ENCRYPTION_KEYS = []  # started without the variable

    (error,) = checks.check_stored_secrets_decrypt(databases=["default"])

    assert error.id == "webhooks.E050"
    assert "2 of 2 webhooks" in error.msg and "it is not set" in error.msg
    assert "WEBHOOKS_ENCRYPTION_KEYS" in error.hint
    assert str(hooks[0].id) in error.msg or str(hooks[1].id) in error.msg


def test_the_check_warns_when_only_some_are_undecryptable(settings):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD]
    WebhookFactory()
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW]
    WebhookFactory()

    (warning,) = checks.check_stored_secrets_decrypt(databases=["default"])

    assert warning.id == "webhooks.W050" and "1 of 2 webhooks" in warning.msg


def test_the_check_needs_the_database_and_survives_a_missing_table(monkeypatch):
    assert checks.check_stored_secrets_decrypt() == []  # plain `manage.py check`

    def missing_table():
        raise ProgrammingError('relation "webhooks_webhook" does not exist')

    monkeypatch.setattr(key_rotation, "undecryptable_webhooks", missing_table)
    assert checks.check_stored_secrets_decrypt(databases=["default"]) == []


def test_web_and_worker_startup_log_it(settings, caplog):
    settings.WEBHOOKS_ENCRYPTION_KEYS = [OLD]
    WebhookFactory()
    settings.WEBHOOKS_ENCRYPTION_KEYS = [NEW]

    with caplog.at_level(logging.WARNING, logger="webhooks.checks"):
        checks.run_startup_checks()

    assert "webhooks.E050" in caplog.text and "WEBHOOKS_ENCRYPTION_KEYS" in caplog.text
