"""Name resolution isolated: cached per host, one lookup in flight per host, none shared.

A fake getaddrinfo (in-process) answers chosen names with 127.0.0.1, hangs for others until the
test ends, and counts the lookups; every other name resolves for real.
"""

import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.factories import DeliveryFactory, WebhookFactory
from tests.support import wait_for
from webhooks import resolver, transport
from webhooks.egress import validate_destination_url
from webhooks.engine import lanes
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.transport import client as transport_client
from webhooks.transport.client import BlockedDestination

BUDGET_MS = 2000  # DELIVERY_TIMEOUT_SECONDS in tests.settings
HANG = "hang"


class FakeDns:
    """Answer names from a table (a list of addresses, or HANG); count each lookup."""

    def __init__(self) -> None:
        self.table: dict[str, list[str] | str] = {}
        self.calls: Counter[str] = Counter()
        self.release = threading.Event()  # set when the test ends: hung lookups give up
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.table:
            return self._real(host, port, family, type, proto, flags)
        self.calls[host] += 1
        answer = self.table[host]
        if answer == HANG:
            self.release.wait()
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in answer]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    yield fake
    fake.release.set()
    wait_for(lambda: not resolver._running, 5, "the hung lookups to end")


@pytest.fixture
def clock(monkeypatch):
    """The resolver's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(resolver, "_clock", lambda: now[0])
    return now


def _lookup(host: str, timeout: float | None = 5.0, owner: str = "") -> list[str]:
    token = resolver.owner.set(owner)
    try:
        infos = resolver.getaddrinfo(host, 443, 0, timeout)
    finally:
        resolver.owner.reset(token)
    return [info[4][0] for info in infos]


def _in_own_connection(function, *args):
    try:
        return function(*args)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)  # lanes run in threads, each on its own connection
def test_a_name_server_that_hangs_for_one_name_leaves_other_webhooks_attempts_unaffected(
    dns, receiver, woken, webhooks_settings
):
    # given one webhook whose name never resolves, with 4 deliveries (4 lanes trying at once),
    # and 6 webhooks at healthy names of the real receiver on 127.0.0.1
    webhooks_settings(RETRY_SCHEDULE_SECONDS=[60])
    dns.table["hung.example.test"] = HANG
    hung = WebhookFactory(url=f"http://hung.example.test:{receiver.port}/hook")
    hung_deliveries = [DeliveryFactory(webhook=hung) for _ in range(4)]
    healthy = []
    for n in range(6):
        dns.table[f"ok-{n}.example.test"] = ["127.0.0.1"]
        url = f"http://ok-{n}.example.test:{receiver.port}/hook"
        healthy.append(DeliveryFactory(webhook=WebhookFactory(url=url)))
    with ThreadPoolExecutor(max_workers=10) as pool:
        stuck = [pool.submit(_in_own_connection, lanes.run_lane, hung.id) for _ in range(4)]
        wait_for(lambda: dns.calls["hung.example.test"], 5, "the hung name's lookup to start")
        # when the healthy webhooks' lanes run meanwhile
        started = time.monotonic()
        done = [pool.submit(_in_own_connection, lanes.run_lane, d.webhook_id) for d in healthy]
        assert sum(future.result() for future in done) == len(healthy)
        elapsed = time.monotonic() - started
        hung_still_waiting = not any(future.done() for future in stuck)
        assert sum(future.result() for future in stuck) == len(hung_deliveries)
    # then each healthy delivery resolved and arrived in its normal time, long before the
    # hung name's attempts gave up
    assert len(receiver.wait_for(len(healthy))) == len(healthy)
    for delivery in healthy:
        (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
        assert (attempt.response_status, attempt.error_kind) == (200, "")
        assert attempt.duration_ms < BUDGET_MS / 2
    assert hung_still_waiting, f"healthy lanes took {elapsed:.2f} s"
    # and the hung name cost one lookup (one thread), however many attempts waited for it
    assert dns.calls["hung.example.test"] == 1
    for delivery in hung_deliveries:
        (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
        assert attempt.error_kind == "dns"
        assert attempt.error_message == (
            "the name lookup of hung.example.test did not finish within the deadline"
        )
        assert BUDGET_MS - 100 <= attempt.duration_ms <= BUDGET_MS + 1000
        assert Delivery.objects.get(pk=delivery.pk).status == "pending"  # retried as usual


def test_concurrent_lookups_of_one_host_wait_for_one_lookup(dns, monkeypatch):
    # given a name whose answer does not come while the attempts wait
    gate = threading.Event()
    dns.table["slow.example.test"] = ["127.0.0.1"]
    answer = dns.getaddrinfo

    def slow(host, *args):
        if host == "slow.example.test":
            gate.wait(5)
        return answer(host, *args)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    # when eight attempts look it up at once (each gives up after 0.5 s)
    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = [pool.submit(_lookup, "slow.example.test", 0.5) for _ in range(8)]
        errors = [future.exception() for future in waits]
    # then they all waited for one lookup, still running: nothing was cached yet
    assert all(isinstance(error, resolver.NameLookupUnfinished) for error in errors)
    assert (
        dns.calls["slow.example.test"] == 0 and ("slow.example.test", 443, 0) in resolver._running
    )
    # and its answer, when it comes, serves the next attempt without a second lookup
    gate.set()
    assert _lookup("slow.example.test") == ["127.0.0.1"]
    assert dns.calls["slow.example.test"] == 1


def test_an_answer_is_kept_for_dns_cache_seconds(dns, clock, webhooks_settings):
    webhooks_settings(DNS_CACHE_SECONDS=60)
    dns.table["cached.example.test"] = ["127.0.0.1"]

    assert _lookup("cached.example.test") == ["127.0.0.1"]
    clock[0] += 59
    assert _lookup("cached.example.test") == ["127.0.0.1"]
    assert dns.calls["cached.example.test"] == 1  # from the cache
    clock[0] += 2
    dns.table["cached.example.test"] = ["127.0.0.2"]
    assert _lookup("cached.example.test") == ["127.0.0.2"]  # looked up again
    assert dns.calls["cached.example.test"] == 2


def test_a_failed_lookup_is_not_kept(dns):
    dns.table["gone.example.test"] = []

    for _ in range(2):
        assert _lookup("gone.example.test") == []
    dns.table["gone.example.test"] = ["127.0.0.1"]

    assert _lookup("gone.example.test") == ["127.0.0.1"]


def test_an_attempt_over_a_kept_alive_connection_looks_nothing_up(dns, receiver):
    dns.table["alive.example.test"] = ["127.0.0.1"]
    url = f"http://alive.example.test:{receiver.port}/hook"
    assert transport.send(url, {}, b"{}").status_code == 200
    first = dns.calls["alive.example.test"]

    assert transport.send(url, {}, b"{}").status_code == 200

    assert dns.calls["alive.example.test"] == first
    assert len(receiver.wait_for(2)) == 2


def test_a_cached_answer_is_checked_by_the_egress_policy_at_every_use(
    dns, receiver, webhooks_settings
):
    # given a name whose answer (127.0.0.1) was cached while private addresses were allowed
    dns.table["cached.example.test"] = ["127.0.0.1"]
    url = f"http://cached.example.test:{receiver.port}/hook"
    assert transport.send(url, {}, b"{}").status_code == 200
    # when they no longer are
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    outcome = transport.send(url, {}, b"{}")
    # then the cached address is refused before anything is sent
    assert outcome.error_kind == "blocked_destination"
    assert "loopback address 127.0.0.1" in outcome.error_message
    assert len(receiver.requests) == 1


def test_rebinding_stays_blocked_when_the_cached_answer_ends(
    dns, clock, receiver, webhooks_settings
):
    # given a name that first answers a public address (checked and cached, nothing sent) ...
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False, DNS_CACHE_SECONDS=60)
    dns.table["rebind.example.test"] = ["93.184.216.34"]
    port = receiver.port  # the same name and port: the same cached answer
    assert transport_client.resolve_public("rebind.example.test", port) == "93.184.216.34"
    # ... and, once the cached answer ends, this machine
    clock[0] += 61
    dns.table["rebind.example.test"] = ["127.0.0.1"]

    outcome = transport.send(f"http://rebind.example.test:{port}/hook", {}, b"{}")

    assert outcome.error_kind == "blocked_destination"
    assert dns.calls["rebind.example.test"] == 2
    assert receiver.requests == []
    with pytest.raises(BlockedDestination):
        transport_client.resolve_public("rebind.example.test", port)


def test_the_lookups_one_webhook_has_running_are_bounded(dns, webhooks_settings):
    # given a webhook whose names hang (a URL changed twice while the name server is down)
    webhooks_settings(DNS_LOOKUPS_PER_WEBHOOK=2)
    for name in ("h1", "h2", "h3"):
        dns.table[f"{name}.example.test"] = HANG
    dns.table["ok.example.test"] = ["127.0.0.1"]
    for name in ("h1", "h2"):
        with pytest.raises(resolver.NameLookupUnfinished):
            _lookup(f"{name}.example.test", timeout=0.05, owner="webhook-a")
    # when it needs a third: refused at once, no thread started
    started = time.monotonic()
    with pytest.raises(resolver.NameLookupFailed, match="DNS_LOOKUPS_PER_WEBHOOK"):
        _lookup("h3.example.test", timeout=5, owner="webhook-a")
    assert time.monotonic() - started < 1
    assert dns.calls["h3.example.test"] == 0
    # then another webhook still resolves, and the first one may wait for a running lookup
    assert _lookup("ok.example.test", owner="webhook-b") == ["127.0.0.1"]
    with pytest.raises(resolver.NameLookupUnfinished):
        _lookup("h1.example.test", timeout=0.05, owner="webhook-a")
    assert dns.calls["h1.example.test"] == 1


def test_the_lookups_a_process_has_running_are_bounded(dns, webhooks_settings):
    webhooks_settings(DNS_MAX_LOOKUPS_IN_FLIGHT=2)
    for name in ("p1", "p2", "p3"):
        dns.table[f"{name}.example.test"] = HANG
    for n, name in enumerate(("p1", "p2")):
        with pytest.raises(resolver.NameLookupUnfinished):
            _lookup(f"{name}.example.test", timeout=0.05, owner=f"webhook-{n}")

    with pytest.raises(resolver.NameLookupFailed, match="DNS_MAX_LOOKUPS_IN_FLIGHT"):
        _lookup("p3.example.test", timeout=5, owner="webhook-c")

    assert dns.calls["p3.example.test"] == 0


def test_a_name_that_hangs_at_webhook_creation_holds_the_request_only_its_connect_timeout(
    dns, webhooks_settings
):
    # the URL is accepted, as one whose name does not resolve yet: checked again at connect
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False, CONNECT_TIMEOUT_SECONDS=0.3)
    dns.table["hung.example.test"] = HANG
    started = time.monotonic()

    validate_destination_url("https://hung.example.test/hook")

    assert time.monotonic() - started < 1.0
