"""Which destinations outgoing requests may reach (the SSRF policy)."""

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from webhooks import resolver
from webhooks.conf import app_settings

MAX_URL_LENGTH = 2048  # characters
MAX_HOSTNAME_LENGTH = 253  # characters, the DNS limit

# Ranges that `is_global` misses or that we name explicitly for clear messages.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 forms that carry an IPv4 destination: judge them by the IPv4 address they reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


class DestinationNotAllowed(ValueError):
    """A webhook URL that deliveries may not be sent to; the message says why."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(address: str) -> str | None:
    """Return why an IP address is not a public destination, or None when it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
    checks = [
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "carrier-grade NAT"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-global"),
    ]
    return next((f"{label} address {ip}" for blocked, label in checks if blocked), None)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # Legacy IPv4 spellings that resolvers still honour: 2130706433, 0x7f.1, 127.1.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _ascii_hostname(host: str) -> str:
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DestinationNotAllowed(f"{host!r} is not a valid host name.") from exc
    labels = ascii_host.split(".")
    if len(ascii_host) > MAX_HOSTNAME_LENGTH or not all(_HOST_LABEL.match(x) for x in labels):
        raise DestinationNotAllowed(f"{host!r} is not a valid host name.")
    return ascii_host


def _resolve(host: str, port: int) -> list[str]:
    try:
        # Bounded: a name server that never answers must not hold a web thread.
        infos = resolver.getaddrinfo(host, port, 0, app_settings.CONNECT_TIMEOUT_SECONDS)
    except resolver.NameLookupFailed:
        # Not resolvable now (DNS not set up yet): accepted; the connect-time check applies.
        return []
    return [info[4][0] for info in infos]


def validate_destination_url(url: str) -> None:
    """Raise DestinationNotAllowed unless deliveries may be sent to url.

    Checks the shape (http or https, a host, no user:password, at most 2048 characters), the
    https rule (WEBHOOKS["REQUIRE_HTTPS"]) and, unless WEBHOOKS["ALLOW_PRIVATE_DESTINATIONS"],
    that the host is not and does not resolve to a non-public address. A host that does not
    resolve yet is accepted: the transport checks every address again when it connects, which
    also defeats DNS rebinding.
    """
    if len(url) > MAX_URL_LENGTH:
        raise DestinationNotAllowed(f"Use a URL of at most {MAX_URL_LENGTH} characters.")
    if _CONTROL_OR_SPACE.search(url):
        raise DestinationNotAllowed("A URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationNotAllowed("Enter a valid URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationNotAllowed("Use an http:// or https:// URL.")
    if scheme != "https" and app_settings.REQUIRE_HTTPS:
        raise DestinationNotAllowed("Use an https:// URL: this service requires https.")
    if "@" in parts.netloc:
        raise DestinationNotAllowed(
            "A URL may not contain a user name or password; send credentials in a custom header."
        )
    host = parts.hostname
    if not host:
        raise DestinationNotAllowed("The URL has no host.")
    if port == 0:
        raise DestinationNotAllowed("Port 0 is not a valid port.")
    ip = _ip_literal(host)
    ascii_host = _ascii_hostname(host) if ip is None else str(ip)
    if app_settings.ALLOW_PRIVATE_DESTINATIONS:
        return
    if ip is not None:
        reason = blocked_reason(str(ip))
        if reason:
            raise DestinationNotAllowed(f"The host is not a public address ({reason}).")
        return
    if ascii_host == "localhost" or ascii_host.endswith(".localhost"):
        raise DestinationNotAllowed(f"The host {host} is this machine (loopback).")
    default_port = 443 if scheme == "https" else 80
    for address in _resolve(ascii_host, port or default_port):
        reason = blocked_reason(address)
        if reason:
            raise DestinationNotAllowed(
                f"The host {host} resolves to a non-public address ({reason})."
            )
