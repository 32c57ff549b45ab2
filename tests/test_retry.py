"""The retry policy, as plain values: no Django, no clock, no HTTP."""

from datetime import UTC, datetime, timedelta

import pytest

from webhooks import retry
from webhooks.conf import DEFAULTS

NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
SCHEDULE = DEFAULTS["RETRY_SCHEDULE_SECONDS"]  # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h


def decide(status_code=None, error_kind="", attempt=1, retry_after=None, **overrides):
    arguments = {
        "status_code": status_code,
        "error_kind": error_kind,
        "retry_after": retry_after,
        "attempt_number": attempt,
        "automatic": True,
        "now": NOW,
        "schedule": SCHEDULE,
        "jitter_ratio": 0.0,
    } | overrides
    return retry.decide(**arguments)


def test_default_schedule_is_seven_attempts_over_about_eighteen_hours():
    waits = [decide(500, attempt=n).next_attempt_at - NOW for n in range(1, 7)]
    assert waits == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
    ]
    last = decide(500, attempt=7)
    assert (last.result, last.next_attempt_at, last.exhausted) == (retry.FAILED, None, True)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_succeeds(status):
    assert decide(status).result == retry.SUCCEEDED


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, ""), (404, ""), (302, ""), (None, "timeout"), (None, "connection"), (None, "dns")],
)
def test_other_outcomes_are_retried_until_the_schedule_ends(status, kind):
    first = decide(status, kind, attempt=1)
    assert first.result == retry.RETRY
    assert first.next_attempt_at == NOW + timedelta(seconds=5)
    assert decide(status, kind, attempt=7).result == retry.FAILED


def test_410_fails_at_once_and_disables_the_webhook():
    decision = decide(410, attempt=1)
    assert decision.result == retry.FAILED
    assert decision.disable_reason == "endpoint answered 410 Gone"
    assert not decision.exhausted


@pytest.mark.parametrize("kind", ["blocked_destination", "webhook_disabled"])
def test_blocked_destination_and_disabled_webhook_are_not_retried(kind):
    decision = decide(None, kind, attempt=1)
    assert (decision.result, decision.disable_reason) == (retry.FAILED, "")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_delays_the_next_attempt(status):
    decision = decide(status, attempt=1, retry_after="120")
    assert decision.next_attempt_at == NOW + timedelta(seconds=120)


def test_retry_after_http_date():
    decision = decide(503, attempt=1, retry_after="Mon, 06 Jan 2025 12:10:00 GMT")
    assert decision.next_attempt_at == NOW + timedelta(minutes=10)


def test_retry_after_is_capped_at_the_longest_step():
    decision = decide(429, attempt=1, retry_after=str(7 * 24 * 3600))
    assert decision.next_attempt_at == NOW + timedelta(hours=10)


def test_retry_after_never_brings_an_attempt_forward():
    decision = decide(429, attempt=3, retry_after="1")
    assert decision.next_attempt_at == NOW + timedelta(minutes=30)


def test_retry_after_is_ignored_on_other_statuses_and_when_unparseable():
    assert decide(500, retry_after="600").next_attempt_at == NOW + timedelta(seconds=5)
    assert decide(429, retry_after="soon").next_attempt_at == NOW + timedelta(seconds=5)


def test_retry_after_does_not_extend_the_number_of_attempts():
    assert decide(429, attempt=7, retry_after="10").result == retry.FAILED


def test_a_failed_manual_or_test_attempt_schedules_nothing():
    decision = decide(500, attempt=1, automatic=False)
    assert (decision.result, decision.next_attempt_at, decision.exhausted) == (
        retry.FAILED,
        None,
        False,
    )
    assert decide(200, automatic=False).result == retry.SUCCEEDED


@pytest.mark.parametrize(("rand", "seconds"), [(0.0, 240), (0.5, 300), (0.999999, 360)])
def test_jitter_stays_within_twenty_percent(rand, seconds):
    decision = decide(500, attempt=2, jitter_ratio=0.2, rand=lambda: rand)
    assert (decision.next_attempt_at - NOW).total_seconds() == pytest.approx(seconds, abs=0.01)


def test_jitter_spreads_attempts():
    waits = {decide(500, jitter_ratio=0.2).next_attempt_at for _ in range(50)}
    assert len(waits) > 40
    assert all(4 <= (w - NOW).total_seconds() <= 6 for w in waits)


def test_an_empty_schedule_means_a_single_attempt():
    assert decide(500, attempt=1, schedule=[]).result == retry.FAILED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        (" 30 ", 30.0),
        ("Mon, 06 Jan 2025 11:00:00 GMT", 0.0),  # in the past
        ("-5", None),
        ("", None),
        ("tomorrow", None),
    ],
)
def test_retry_after_parsing(value, expected):
    assert retry.retry_after_seconds(value, NOW) == expected
