"""The SSRF policy: which IP addresses and webhook URLs deliveries may reach."""

import socket

import pytest

from webhooks.egress import DestinationNotAllowed, blocked_reason, validate_destination_url


@pytest.fixture
def public_only(settings):
    """The production policy: private destinations refused, https not required."""
    settings.WEBHOOKS = {
        **settings.WEBHOOKS,
        "ALLOW_PRIVATE_DESTINATIONS": False,
        "REQUIRE_HTTPS": False,
    }


@pytest.fixture
def resolver(monkeypatch):
    """Stub DNS: map host names to addresses; unknown names do not resolve."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers_api = type("Resolver", (), {"answers": answers, "asked": asked})
    return answers_api


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:5", "private"),  # NAT64 wrapping 10.0.0.5
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_non_public_addresses_are_blocked_with_their_kind(address, label):
    assert blocked_reason(address).startswith(label)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert blocked_reason(address) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://localhost", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://api.localhost/hook", "loopback"),
        ("http://10.0.0.5/", "private"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
        ("http://0x7f.1/", "loopback"),
        ("http://100.64.1.1/", "carrier-grade NAT"),
        ("http://0.0.0.0:80/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
    ],
)
def test_private_literals_and_localhost_are_refused(public_only, resolver, url, message):
    with pytest.raises(DestinationNotAllowed, match=message):
        validate_destination_url(url)


def test_host_resolving_to_a_private_address_is_refused(public_only, resolver):
    resolver.answers["internal.example.com"] = ["10.0.0.5"]
    with pytest.raises(
        DestinationNotAllowed, match=r"internal\.example\.com resolves.*10\.0\.0\.5"
    ):
        validate_destination_url("https://internal.example.com/hook")


def test_one_private_answer_among_public_ones_is_enough_to_refuse(public_only, resolver):
    resolver.answers["mixed.example.com"] = ["93.184.216.34", "::ffff:192.168.0.10"]
    with pytest.raises(DestinationNotAllowed, match="private"):
        validate_destination_url("https://mixed.example.com/")


def test_host_resolving_to_public_addresses_is_accepted(public_only, resolver):
    resolver.answers["hooks.example.com"] = ["93.184.216.34", "2606:2800:220:1::1"]
    validate_destination_url("https://hooks.example.com:8443/agenta?team=ml")
    assert resolver.asked == ["hooks.example.com"]


def test_unresolvable_host_is_accepted_and_left_to_the_connect_time_check(public_only, resolver):
    validate_destination_url("https://not-yet-in-dns.example.com/")
    assert resolver.asked == ["not-yet-in-dns.example.com"]


def test_allow_private_destinations_skips_address_checks_and_dns(settings, resolver):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": True}
    for url in ["http://127.0.0.1:9000/", "http://localhost/", "http://internal.corp/"]:
        validate_destination_url(url)
    assert resolver.asked == []


def test_https_is_required_when_configured(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "REQUIRE_HTTPS": True}
    with pytest.raises(DestinationNotAllowed, match="https"):
        validate_destination_url("http://hooks.example.com/")
    validate_destination_url("https://hooks.example.com/")


def test_https_is_required_by_default_when_debug_is_off(settings):
    settings.DEBUG = False
    settings.WEBHOOKS = {"ALLOW_PRIVATE_DESTINATIONS": True}
    with pytest.raises(DestinationNotAllowed, match="https"):
        validate_destination_url("http://hooks.example.com/")
    settings.DEBUG = True
    validate_destination_url("http://hooks.example.com/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/", "http:// or https://"),
        ("hooks.example.com/path", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://user:pass@hooks.example.com/", "user name or password"),
        ("https://token@hooks.example.com/", "user name or password"),
        ("https:///path-only", "no host"),
        ("https://hooks.example.com:99999/", "valid URL"),
        ("https://hooks.example.com:0/", "Port 0"),
        ("https://hooks.example.com/a b", "spaces or control"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "spaces or control"),
        ("https://bad_label-.example.com/", "valid host name"),
        ("https://" + "a" * 64 + ".example.com/", "valid host name"),
        ("https://hooks.example.com/" + "p" * 2048, "at most 2048"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(settings, url, message):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": True}
    with pytest.raises(DestinationNotAllowed, match=message):
        validate_destination_url(url)


def test_a_url_of_exactly_2048_characters_is_accepted(settings):
    settings.WEBHOOKS = {**settings.WEBHOOKS, "ALLOW_PRIVATE_DESTINATIONS": True}
    base = "https://hooks.example.com/"
    validate_destination_url(base + "p" * (2048 - len(base)))


def test_internationalised_host_names_are_accepted(public_only, resolver):
    resolver.answers["xn--bcher-kva.example"] = ["93.184.216.34"]
    validate_destination_url("https://bücher.example/hook")
    assert resolver.asked == ["xn--bcher-kva.example"]
