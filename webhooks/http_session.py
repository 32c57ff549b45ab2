"""The outgoing HTTP session: one per thread, keep-alive, private addresses refused at connect."""

import ipaddress
import socket
import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.connection import allowed_gai_family

from webhooks.conf import app_settings
from webhooks.egress import blocked_reason

_local = threading.local()


class BlockedDestination(requests.exceptions.ConnectionError):
    """The host is, or resolves to, an address deliveries may not reach; nothing was sent."""


class NameNotResolved(requests.exceptions.ConnectionError):
    """DNS gave no address for the host."""


def resolve_public(hostname: str, port: int) -> str:
    """Return the address to connect to, or raise unless every address of hostname is public.

    Every address is checked, not only the first: a name with one public and one private
    address is refused rather than left to the resolver's ordering.
    """
    try:
        infos = socket.getaddrinfo(hostname, port, allowed_gai_family(), socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NameNotResolved(f"could not resolve {hostname}: {exc}") from exc
    addresses = [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not addresses:
        raise NameNotResolved(f"no IPv4 or IPv6 address for {hostname}")
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedDestination(f"{hostname} is not a public destination ({reason})")
    return addresses[0]


class PinnedAddressAdapter(HTTPAdapter):
    """Resolve the host once, check the addresses, and connect to the checked one.

    Pinning the connection to the address that was checked closes the DNS-rebinding gap
    between a URL's validation and the connect. The original host name stays in the Host
    header and, for https, in SNI and certificate verification. Connection pools are keyed by
    the address, so keep-alive still works.
    """

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if app_settings.ALLOW_PRIVATE_DESTINATIONS:
            return host_params, pool_kwargs
        hostname, port = host_params["host"], host_params["port"]
        if not hostname:
            raise requests.exceptions.InvalidURL("the URL has no host", request=request)
        scheme = host_params["scheme"]
        address = resolve_public(hostname, port or (443 if scheme == "https" else 80))
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        request.headers["Host"] = f"{host_header}:{port}" if port else host_header
        if scheme == "https":
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        host_params["host"] = (
            f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        )
        return host_params, pool_kwargs


def build_session() -> requests.Session:
    """Return a session whose connections are checked against the SSRF policy."""
    session = requests.Session()
    # HTTP(S)_PROXY would send deliveries through a proxy that the address check can't see.
    session.trust_env = False
    # A thread sends one request at a time: one kept-alive connection per destination suffices.
    adapter = PinnedAddressAdapter(pool_connections=32, pool_maxsize=1)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def thread_session() -> requests.Session:
    """Return this thread's session, creating it on first use (sessions are not thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = build_session()
    return session
