"""Transport: one request out, an outcome value back; the SSRF guard at connect time; the wire."""

import datetime
import socket
import ssl
import threading

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.receiver import Receiver, Reply
from webhooks import __version__, transport, wire
from webhooks.transport import client as transport_client
from webhooks.transport.client import BlockedDestination, NameNotResolved

URL = "https://hooks.example.com/agenta"
BODY = b'{"id":"e1","type":"config.deployed"}'


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve the names given to chosen addresses; everything else resolves for real."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in table:
            return real(host, port, family, type, proto, flags)
        answers = table[host]
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


# --- outcomes, with the HTTP layer stubbed ---------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {f"X-H{n}": "v" for n in range(80)},  # too many (http.client refuses over 100)
        {f"X-Big{n}": "b" * 3000 for n in range(5)},  # too large
    ],
)
def test_stored_response_headers_are_capped_and_the_cut_is_marked(receiver, headers):
    receiver.reply_with(Reply(status=200, headers=headers))

    outcome = transport.send(receiver.url(), {}, BODY)

    marker = outcome.headers.pop(transport.TRUNCATED_HEADER)
    assert len(outcome.headers) <= 64
    assert sum(len(k) + len(v) for k, v in outcome.headers.items()) <= 8 * 1024
    total = len(headers) + 3  # and the receiver's Server, Date and Content-Length
    assert marker == f"{total - len(outcome.headers)} of {total} headers not stored"
    assert outcome.status_code == 200


@responses.activate
def test_a_response_becomes_an_outcome_with_lowercased_headers():
    responses.post(URL, status=202, body="accepted", headers={"X-Request-Id": "r1"})
    outcome = transport.send(URL, {"Content-Type": "application/json"}, BODY)
    assert outcome.status_code == 202
    assert outcome.succeeded
    assert outcome.body == "accepted"
    assert outcome.headers["x-request-id"] == "r1"
    assert (outcome.error_kind, outcome.error_message) == ("", "")
    assert outcome.duration_ms >= 0
    sent = responses.calls[0].request
    assert sent.body == BODY
    assert sent.headers["Content-Type"] == "application/json"


@responses.activate
def test_the_response_body_is_truncated_to_the_limit(webhooks_settings):
    webhooks_settings(RESPONSE_BODY_LIMIT_BYTES=16)
    responses.post(URL, status=500, body="x" * 100_000)
    outcome = transport.send(URL, {}, BODY)
    assert outcome.body == "x" * 16
    assert not outcome.succeeded


@responses.activate
def test_the_default_body_limit_is_16_kib():
    responses.post(URL, status=200, body="é" * 20_000)  # 40 000 bytes of UTF-8
    outcome = transport.send(URL, {}, BODY)
    assert len(outcome.body.encode()) <= 16 * 1024 + 3  # a cut character becomes U+FFFD
    assert outcome.body.startswith("éé")


@responses.activate
def test_redirects_are_not_followed():
    responses.post(URL, status=302, headers={"Location": "https://elsewhere.example.com/"})
    responses.post("https://elsewhere.example.com/", status=200)
    outcome = transport.send(URL, {}, BODY)
    assert outcome.status_code == 302
    assert not outcome.succeeded
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), "timeout"),
        (requests.exceptions.ReadTimeout("read timed out"), "timeout"),
        (requests.exceptions.SSLError("certificate verify failed"), "tls"),
        (requests.exceptions.ConnectionError("connection refused"), "connection"),
        (requests.exceptions.ChunkedEncodingError("bad chunk"), "invalid_response"),
        (requests.exceptions.ContentDecodingError("bad gzip"), "invalid_response"),
        (requests.exceptions.InvalidHeader("bad header value"), "connection"),
        (BlockedDestination("private address 10.0.0.1"), "blocked_destination"),
        (NameNotResolved("could not resolve"), "dns"),
    ],
)
@responses.activate
def test_transport_errors_become_error_kinds_not_exceptions(error, kind):
    responses.post(URL, body=error)
    outcome = transport.send(URL, {}, BODY)
    assert outcome.status_code is None
    assert outcome.error_kind == kind
    assert outcome.error_message


# --- against a real receiver on 127.0.0.1 ---------------------------------------------------


def test_keep_alive_reuses_one_connection_per_thread(receiver):
    for _ in range(3):
        assert transport.send(receiver.url(), {}, BODY).status_code == 200
    assert len(receiver.requests) == 3
    pools = transport_client.thread_client().adapter.poolmanager.pools
    # urllib3's pool container refuses iteration; keys() is its thread-safe listing
    (pool,) = [pools[key] for key in pools.keys() if key.key_port == receiver.port]  # noqa: SIM118
    assert pool.num_connections == 1


def test_a_cookie_set_by_one_endpoint_is_never_sent_on(receiver):
    # another customer's webhook on the same host must not receive it
    receiver.reply_with(Reply(status=200, headers={"Set-Cookie": "session=tenant-a; Path=/"}))
    assert transport.send(receiver.url("/tenant-a"), {}, BODY).status_code == 200
    assert transport.send(receiver.url("/tenant-b"), {}, BODY).status_code == 200
    assert [r.headers.get("cookie") for r in receiver.requests] == [None, None]


def test_a_slow_receiver_times_out(receiver, webhooks_settings):
    webhooks_settings(CONNECT_TIMEOUT_SECONDS=0.3, DELIVERY_TIMEOUT_SECONDS=0.5)
    receiver.reply_with(Reply(status=200, delay=2))
    outcome = transport.send(receiver.url(), {}, BODY)
    assert outcome.error_kind == "timeout"
    assert outcome.status_code is None
    assert 400 <= outcome.duration_ms < 1500


def test_a_closed_port_is_a_connection_error(unused_port):
    outcome = transport.send(f"http://127.0.0.1:{unused_port}/hook", {}, BODY)
    assert outcome.error_kind == "connection"
    assert outcome.status_code is None


def test_a_malformed_status_line_is_an_invalid_response():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer_garbage():
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"NONSENSE\r\n\r\n")

        thread = threading.Thread(target=answer_garbage)
        thread.start()
        outcome = transport.send(f"http://127.0.0.1:{server.getsockname()[1]}/", {}, BODY)
        thread.join()
    assert (outcome.status_code, outcome.error_kind) == (None, "invalid_response")


def test_a_header_that_cannot_be_written_is_a_failed_attempt_not_an_exception(receiver):
    outcome = transport.send(receiver.url(), {"X-Name": "snow ☃"}, BODY)
    assert outcome.error_kind == "connection"
    assert outcome.error_message.startswith("could not send the request")


def test_nul_bytes_in_a_response_are_stored_safely(receiver):
    receiver.reply_with(Reply(status=200, body=b"a\x00b", headers={"X-Odd": "1"}))
    outcome = transport.send(receiver.url(), {}, BODY)
    assert outcome.body == "a\ufffdb"


def test_a_real_302_is_recorded_and_not_followed(receiver):
    receiver.reply_with(Reply(status=302, headers={"Location": receiver.url("/elsewhere")}))
    outcome = transport.send(receiver.url(), {}, BODY)
    assert outcome.status_code == 302
    assert outcome.headers["location"].endswith("/elsewhere")
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_the_receiver_gets_the_exact_bytes_and_headers(receiver):
    headers = {"Content-Type": "application/json", "X-Agenta-Event": "config.deployed"}
    transport.send(receiver.url(), headers, BODY)
    (got,) = receiver.wait_for(1)
    assert got.body == BODY
    assert got.headers["x-agenta-event"] == "config.deployed"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_loopback_is_blocked_before_any_connection(receiver, webhooks_settings, host):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    outcome = transport.send(f"http://{host}:{receiver.port}/hook", {}, BODY)
    assert outcome.error_kind == "blocked_destination"
    assert "loopback" in outcome.error_message
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.7"], "private"),
        (["100.64.1.2"], "carrier-grade NAT"),
        (["169.254.169.254"], "link-local"),
        (["224.0.0.1"], "multicast"),
        (["240.0.0.1"], "reserved"),
        (["::ffff:10.0.0.7"], "private"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["fd00::1"], "private"),
        (["93.184.216.34", "127.0.0.1"], "loopback"),  # one bad address is enough
    ],
)
def test_hostnames_resolving_to_non_public_addresses_are_blocked(
    fake_dns, webhooks_settings, addresses, reason
):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    fake_dns["internal.example.com"] = addresses
    outcome = transport.send("https://internal.example.com/hook", {}, BODY)
    assert outcome.error_kind == "blocked_destination"
    assert reason in outcome.error_message


def test_an_unresolvable_name_is_a_dns_error(fake_dns, webhooks_settings):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    fake_dns["nowhere.example.com"] = []
    outcome = transport.send("https://nowhere.example.com/hook", {}, BODY)
    assert outcome.error_kind == "dns"


def test_the_connection_goes_to_the_address_that_was_checked(
    receiver, webhooks_settings, monkeypatch
):
    # given a name that resolves to 127.0.0.1 once (accepted here) and to 10.9.9.9 afterwards
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    monkeypatch.setattr(transport_client, "blocked_reason", lambda address: None)
    real, lookups = socket.getaddrinfo, []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.com":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # when
    outcome = transport.send(f"http://rebind.example.com:{receiver.port}/hook", {}, BODY)
    # then: resolved once, the checked address was used, the name kept in the Host header
    assert outcome.status_code == 200
    assert lookups == ["rebind.example.com"]
    (got,) = receiver.wait_for(1)
    assert got.headers["host"] == f"rebind.example.com:{receiver.port}"


@pytest.fixture
def tls_receiver(tmp_path):
    """An https server on 127.0.0.1 whose certificate names only secure.example.com."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secure.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("secure.example.com")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = Receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.sni = []
    context.sni_callback = lambda sock, server_name, ctx: server.sni.append(server_name)
    server._server.socket = context.wrap_socket(server._server.socket, server_side=True)
    server.start()
    # this thread's client trusts the certificate (the real one trusts the system CAs)
    client = transport_client.thread_client()
    client.verify = str(cert_file)
    yield server
    client.verify = True
    server.stop()


def test_https_to_a_pinned_address_keeps_sni_and_certificate_checks(
    tls_receiver, fake_dns, webhooks_settings, monkeypatch
):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=False)
    monkeypatch.setattr(transport_client, "blocked_reason", lambda address: None)
    fake_dns["secure.example.com"] = ["127.0.0.1"]
    port = tls_receiver.port
    outcome = transport.send(f"https://secure.example.com:{port}/hook", {}, BODY)
    assert outcome.status_code == 200
    assert tls_receiver.sni == ["secure.example.com"]
    assert tls_receiver.requests[0].headers["host"] == f"secure.example.com:{port}"
    # the same server reached by an address its certificate doesn't name is refused
    refused = transport.send(f"https://127.0.0.1:{port}/hook", {}, BODY)
    assert refused.error_kind == "tls"


def test_private_destinations_are_reachable_when_allowed(receiver, webhooks_settings):
    webhooks_settings(ALLOW_PRIVATE_DESTINATIONS=True)
    outcome = transport.send(f"http://localhost:{receiver.port}/hook", {}, BODY)
    assert outcome.status_code == 200


# --- the wire contract ------------------------------------------------------------------------


def test_request_headers_follow_the_wire_contract():
    headers = wire.request_headers(
        delivery_id="d1",
        event_type="config.deployed",
        body=BODY,
        secrets=["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"],
        custom={"X-Team": "search", "User-Agent": "evil", "webhook-id": "forged", "HOST": "x"},
        timestamp=1_700_000_000,
    )
    assert list(headers) == [
        "Content-Type",
        "User-Agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "X-Agenta-Event",
        "X-Agenta-Delivery",
        "X-Team",
    ]
    assert headers["User-Agent"] == f"agenta-webhooks/{__version__}"
    assert headers["webhook-id"] == headers["X-Agenta-Delivery"] == "d1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"].startswith("v1,")


def test_recorded_headers_hide_signatures_and_credentials():
    recorded = wire.redacted(
        {
            "webhook-signature": "v1,abc",
            "Authorization": "Bearer s3cret",
            "Cookie": "sid=1",
            "X-Api-Key": "k",
            "X-Auth-Token": "t",
            "X-Client-Secret": "s",
            "X-Team": "search",
            "webhook-id": "d1",
        }
    )
    assert recorded == {
        "webhook-signature": "[redacted]",
        "Authorization": "[redacted]",
        "Cookie": "[redacted]",
        "X-Api-Key": "[redacted]",
        "X-Auth-Token": "[redacted]",
        "X-Client-Secret": "[redacted]",
        "X-Team": "search",
        "webhook-id": "d1",
    }


def test_connection_errors_are_stored_as_short_human_text(unused_port, fake_dns, tls_receiver):
    # given endpoints that refuse, don't resolve, and present a certificate for another name
    fake_dns["nowhere.example.com"] = []
    refused = transport.send(f"http://127.0.0.1:{unused_port}/services/T0/B0/x", {}, BODY)
    unresolved = transport.send("https://nowhere.example.com/hook", {}, BODY)
    wrong_name = transport.send(f"https://127.0.0.1:{tls_receiver.port}/hook", {}, BODY)
    # then each error says what happened, without urllib3's pool and retry wording
    assert refused.error_message == "connection refused"
    assert unresolved.error_message == "name did not resolve: nowhere.example.com"
    assert wrong_name.error_message.startswith("TLS handshake failed: ")
    for outcome in (refused, unresolved, wrong_name):
        assert "Max retries" not in outcome.error_message
        assert "Pool(" not in outcome.error_message
