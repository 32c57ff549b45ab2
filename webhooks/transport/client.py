"""The outgoing HTTP client: one per thread, keep-alive, private addresses refused at connect.

Every connection it makes is watched by the running attempt's deadline (transport/deadline.py):
the name lookup (webhooks/resolver.py: cached, one per host) is given up and the socket shut down
when the attempt's time is up.
"""

import functools
import ipaddress
import socket
import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family

from webhooks import resolver
from webhooks.conf import app_settings
from webhooks.egress import blocked_reason
from webhooks.transport import deadline

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
    addresses = _resolve(hostname, port)
    if not addresses:
        raise NameNotResolved(f"no IPv4 or IPv6 address for {hostname}")
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            raise BlockedDestination(f"{hostname} is not a public destination ({reason})")
    return addresses[0]


def _resolve(hostname: str, port: int) -> list[str]:
    """Return hostname's addresses, looked up (or cached) within the running attempt's deadline."""
    literal = hostname.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]  # an address already: nothing to look up
    except ValueError:
        pass
    running = deadline.current()
    try:
        infos = resolver.getaddrinfo(
            hostname, port, allowed_gai_family(), running.remaining() if running else None
        )
    except resolver.NameLookupUnfinished as exc:
        message = f"the name lookup of {hostname} did not finish within the deadline"
        raise NameNotResolved(message) from exc
    except resolver.NameLookupFailed as exc:
        raise NameNotResolved(str(exc)) from exc
    return [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


class _Watched:
    """A connection whose socket the running attempt's deadline can shut down.

    It keeps a duplicate of the socket's descriptor for as long as it lives: shutting the
    duplicate down stops the socket (TLS included, even mid-handshake), and owning it means a
    late shutdown can never reach a descriptor number that the process has reused since.
    """

    _handle: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._handle = sock.dup()
        self._watch()
        return sock

    def request(self, *args, **kwargs):
        self._watch()  # a kept-alive connection serves a new attempt
        return super().request(*args, **kwargs)

    def close(self) -> None:
        super().close()
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _watch(self) -> None:
        running = deadline.current()
        if running is not None and self._handle is not None:
            running.watch(self._handle)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PinnedAddressAdapter(HTTPAdapter):
    """Resolve the host once, check the addresses, and connect to the checked one.

    Pinning the connection to the address that was checked closes the DNS-rebinding gap
    between a URL's validation and the connect. The original host name stays in the Host
    header and, for https, in SNI and certificate verification. Connection pools are keyed by
    the address, so keep-alive still works.
    """

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        hostname, port, scheme = host_params["host"], host_params["port"], host_params["scheme"]
        if not hostname:
            raise requests.exceptions.InvalidURL("the URL has no host", request=request)
        port = port or (443 if scheme == "https" else 80)
        if app_settings.ALLOW_PRIVATE_DESTINATIONS:
            # Development: any address, tried in the resolver's order; only the lookup's time is
            # bounded here (urllib3 looks the name up again, from the cache this warmed).
            _resolve(hostname, port)
            return host_params, pool_kwargs
        address = resolve_public(hostname, port)
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        default_port = 443 if scheme == "https" else 80
        request.headers["Host"] = host_header if port == default_port else f"{host_header}:{port}"
        if scheme == "https":
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        host_params["host"] = (
            f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        )
        return host_params, pool_kwargs


class Client:
    """One thread's way out: the pinned adapter, and nothing of a requests.Session.

    A Session would keep a cookie jar shared by every endpoint this thread sends to (one
    receiver's Set-Cookie sent on to another customer's webhook on the same host), read proxies
    from the environment (which the address check can't see) and cost more CPU per request than
    the adapter itself (docs/performance.md). Here each request is prepared from the URL,
    headers and body alone and goes straight to the adapter: no cookies, no proxy, no redirect.
    """

    def __init__(self) -> None:
        # A thread sends one request at a time: one kept-alive connection per destination.
        self.adapter = PinnedAddressAdapter(pool_connections=32, pool_maxsize=1)
        self.verify: bool | str = True  # a CA bundle's path in tests

    def post(self, url: str, headers: dict[str, str], body: bytes, timeout) -> requests.Response:
        """Send one POST and return the response with its body unread (stream)."""
        request = requests.PreparedRequest()
        request.prepare_method("POST")
        request.url = _prepared_url(url)
        request.prepare_headers(headers)
        request.prepare_body(body, None)
        return self.adapter.send(request, stream=True, timeout=timeout, verify=self.verify)


@functools.lru_cache(maxsize=1024)
def _prepared_url(url: str) -> str:
    """Return url as requests sends it (IDNA host, quoted path); a lane sends one URL often."""
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return request.url


def thread_client() -> Client:
    """Return this thread's client, creating it on first use (connection pools are per thread)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = Client()
    return client
