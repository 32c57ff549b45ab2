"""Nothing a receiver sends can abort a batch: every request sent is a recorded attempt.

A raw socket server on 127.0.0.1 answers with hostile status lines, headers and `Retry-After`
values (non-ASCII bytes, dates in the year 99999999999999999999, huge or negative numbers);
the real lane records each answer through the PostgreSQL store, and the delivery is retried on
schedule. Parsing is total (never raises), and should the store refuse one record of a batch,
the others are recorded and the refused one becomes an `internal_error` attempt.
"""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import DeliveryFactory, WebhookFactory
from tests.hostile import RawServer
from webhooks import retry, wire
from webhooks.engine import lanes, sender
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.transport import TRUNCATED_HEADER as TRUNCATED

SCHEDULE = [5, 10, 15]  # seconds; jitter 0, so each wait is known
EXAMPLES = 25  # per property: a few seconds on a shared 2-core machine
SLACK_SECONDS = 0.5  # between the answer and the decision, on a loaded machine
NOW = datetime(2026, 12, 7, tzinfo=UTC)

_LINE_BYTES = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_HOSTILE_RETRY_AFTER = st.one_of(
    st.sampled_from(
        [
            b"\xb2",  # latin-1 superscript two: str.isdigit() says yes, float() says no
            b"Fri, 01 Jan 99999999999999999999 00:00:00 GMT",
            b"Fri, 31 Dec 9999 23:59:59 -2359",
            b"Thu, 01 Jan 1970 00:00:00 GMT",
            b"-5",
            b"1e5",
            b"\xd9\xa3",  # an Arabic-Indic digit, in UTF-8
            b"9" * 400,
            b"",
            b"\x00",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: str(n).encode()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: format_datetime(d, usegmt=True).encode()),
    _LINE_BYTES,
)
_HEADER_NAME = st.one_of(
    st.sampled_from([b"Retry-After", b"retry-after", b"Content-Type", b"X-\xff", b""]),
    _LINE_BYTES.map(lambda b: b.replace(b":", b"")),
)
_STATUS = st.one_of(
    st.sampled_from([429, 503, 429, 503, 200, 204, 301, 404, 410, 500]).map(
        lambda code: b"HTTP/1.1 %d \xb2\xff\r\n" % code
    ),
    st.integers(min_value=100, max_value=999).map(lambda code: b"HTTP/1.1 %d Hm\r\n" % code),
    _LINE_BYTES.map(lambda line: line + b"\r\n"),  # not a status line at all
)


@st.composite
def hostile_answers(draw) -> bytes:
    """Return a raw HTTP answer: a status line, hostile headers, a short body."""
    status = draw(_STATUS)
    headers = draw(st.lists(st.tuples(_HEADER_NAME, _LINE_BYTES), max_size=6))
    if draw(st.integers(0, 3)):  # mostly
        headers.append((b"Retry-After", draw(_HOSTILE_RETRY_AFTER)))
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return status + head + b"\r\n" + draw(st.binary(max_size=40))


@pytest.fixture
def raw_server():
    server = RawServer().start()
    yield server
    server.stop()


@pytest.fixture
def short_schedule(webhooks_settings):
    webhooks_settings(RETRY_SCHEDULE_SECONDS=SCHEDULE, RETRY_JITTER_RATIO=0.0)


def _expected_wait(attempt: DeliveryAttempt) -> tuple[float, float]:
    """Return the bounds of the wait the schedule gives after attempt (seconds).

    From the Retry-After the client read (as recorded): a line the client could not parse as a
    header may hide the ones after it, as http.client does.
    """
    base = SCHEDULE[attempt.number - 1]
    headers = attempt.response_headers
    if attempt.response_status not in (429, 503) or "retry-after" not in headers:
        return (base, max(SCHEDULE)) if TRUNCATED in headers else (base, base)
    value = headers["retry-after"].strip()
    if value.isascii() and value.isdigit():  # the RFC's delay-seconds
        wait = max(base, min(int(value), max(SCHEDULE)))
        return wait, wait
    return base, max(SCHEDULE)  # perhaps an HTTP date: at most the schedule's longest wait


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answers=st.lists(hostile_answers(), min_size=1, max_size=3))
# What the issue saw: three such answers in a row ended the delivery with no attempt at all.
@example(answers=[b"HTTP/1.1 503 Busy\r\nRetry-After: \xb2\r\n\r\n"] * 3)
@example(
    answers=[
        b"HTTP/1.1 429 Slow\r\nRetry-After: Fri, 01 Jan 99999999999999999999 00:00:00 GMT\r\n\r\n",
        b"HTTP/1.1 503 \xff\r\nRetry-After: 99999999999999999999999\r\nX-\xb2: \x00\r\n\r\n",
    ]
)
def test_hostile_retry_after_values_and_response_headers_every_request_sent_is_a_recorded_attempt_retried_on_schedule(  # noqa: E501
    raw_server, short_schedule, woken, answers
):
    delivery = DeliveryFactory(webhook=WebhookFactory(url=raw_server.url))
    sent_before = raw_server.requests
    for number, answer in enumerate(answers, start=1):
        # given the endpoint answers with these bytes, and the delivery is due
        raw_server.answer = answer
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        # when the lane sends it
        lanes.run_lane(delivery.webhook_id)
        # then the request the endpoint received is a recorded attempt
        attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
        assert len(attempts) == raw_server.requests - sent_before == number
        attempt = attempts[-1]
        assert attempt.error_kind != "internal_error", attempt.error_message
        delivery.refresh_from_db()
        code = attempt.response_status
        if code is not None and 200 <= code < 300:
            assert delivery.status == "succeeded"
            return
        if code == 410 or number > len(SCHEDULE):
            assert delivery.status == "failed"
            return
        # and retried on schedule: the wait the schedule (or a valid Retry-After) gives
        assert delivery.status == "pending"
        low, high = _expected_wait(attempt)
        answered = attempt.started_at + timedelta(milliseconds=attempt.duration_ms)
        wait = (delivery.next_attempt_at - answered).total_seconds()
        assert low - SLACK_SECONDS <= wait <= high + SLACK_SECONDS, (wait, low, high)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(_HOSTILE_RETRY_AFTER.map(lambda b: b.decode("latin-1")), st.text()))
def test_retry_after_parsing_is_total(value):
    # when: any value, as http.client decodes a header (latin-1), or any text
    wait = retry.retry_after_seconds(value, NOW)
    decision = retry.decide(
        status_code=503,
        error_kind="http_status",
        retry_after=value,
        attempt_number=1,
        automatic=True,
        now=NOW,
        schedule=SCHEDULE,
        jitter_ratio=0.2,
    )
    # then: a wait of zero or more, or nothing; and the retry within the schedule's longest wait
    assert wait is None or wait >= 0
    assert NOW < decision.next_attempt_at <= NOW + timedelta(seconds=max(SCHEDULE))


@pytest.mark.django_db(transaction=True)  # the engine's own autocommit, as in a worker
def test_a_record_the_store_refuses_loses_no_other_outcome_and_is_an_internal_error(
    receiver, woken, monkeypatch
):
    # given three due deliveries of one webhook, and one whose record the database refuses
    # (an attempt URL longer than its column, as before URLs were cut to fit)
    webhook = WebhookFactory(url=receiver.url())
    start = timezone.now() - timedelta(seconds=3)
    deliveries = [
        DeliveryFactory(webhook=webhook, next_attempt_at=start + timedelta(seconds=n))
        for n in range(3)
    ]
    calls = []

    def redacted_url(url):
        calls.append(url)
        return "https://poison.example.com/?" + "a" * 3000 if len(calls) == 2 else url

    monkeypatch.setattr(sender.wire, "redacted_url", redacted_url)
    # when the lane sends them (the second and third in one batch)
    lanes.run_lane(webhook.id)
    # then every request the receiver got is an attempt; the refused one says why
    assert len(receiver.wait_for(3)) == 3
    kinds = {}
    for delivery in deliveries:
        (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
        delivery.refresh_from_db()
        kinds[delivery.pk] = (attempt.error_kind, delivery.status)
    assert kinds == {
        deliveries[0].pk: ("", "succeeded"),
        deliveries[1].pk: ("internal_error", "pending"),
        deliveries[2].pk: ("", "succeeded"),
    }
    refused = DeliveryAttempt.objects.get(delivery=deliveries[1])
    assert "could not be recorded (the endpoint answered HTTP 200)" in refused.error_message
    assert "too long" in refused.error_message
    assert refused.request_url == ""


def test_a_redacted_url_fits_its_column():
    url = "https://hooks.example.com/p?" + "&".join(["a"] * 1010)  # 2,047 characters
    assert len(url) <= 2048

    shown = wire.redacted_url(url)

    assert len(shown) <= wire.MAX_REDACTED_URL_CHARS == 2048
    assert shown.startswith("https://hooks.example.com/…?a=…&a=…")
    assert shown.endswith("&…")  # says that names were left out
