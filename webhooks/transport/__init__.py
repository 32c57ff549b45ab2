"""Outgoing HTTP: send one signed request and return what happened as a value.

It never raises for an HTTP outcome. `client` holds each thread's pinned, SSRF-safe connection
pools; `deadline` bounds the whole exchange in wall-clock time, whatever the endpoint does.
"""

import http.client
import logging
import socket
import ssl
import time
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from urllib3.exceptions import NameResolutionError, ProtocolError
from urllib3.util import Timeout

from webhooks import resolver
from webhooks.conf import app_settings
from webhooks.outcomes import MAX_ERROR_MESSAGE_CHARS, DeliveryOutcome, ErrorKind, storable
from webhooks.transport import deadline
from webhooks.transport.client import BlockedDestination, NameNotResolved, thread_client

logger = logging.getLogger(__name__)

# Stands among the recorded response headers when some were left out.
TRUNCATED_HEADER = "x-agenta-truncated"
_CHUNK_BYTES = 4096


def send(url: str, headers: dict[str, str], body: bytes) -> DeliveryOutcome:
    """POST body to url with headers once: no redirects, a hard deadline, truncated response.

    The whole exchange (name lookup, connect, TLS, request, status line, headers, body) ends
    within DELIVERY_TIMEOUT_SECONDS of wall-clock time, whatever the endpoint does; an answer
    not complete by then is a timeout, even if its status line arrived.
    """
    total = app_settings.DELIVERY_TIMEOUT_SECONDS
    connect = min(app_settings.CONNECT_TIMEOUT_SECONDS, total)
    with deadline.Deadline(total) as budget:
        outcome = _exchange(url, headers, body, budget, Timeout(connect=connect, read=total))
    # A name lookup that did not finish says so (kind dns) rather than "no complete answer".
    if budget.expired and outcome.error_kind != ErrorKind.DNS:
        return DeliveryOutcome(
            duration_ms=_elapsed_ms(budget.started),
            error_kind=ErrorKind.TIMEOUT,
            error_message=f"no complete answer within the {total:g} s deadline",
        )
    return outcome


def _exchange(
    url: str, headers: dict[str, str], body: bytes, budget: deadline.Deadline, timeout: Timeout
) -> DeliveryOutcome:
    started = budget.started
    try:
        response = thread_client().post(url, headers, body, timeout)
    except requests.RequestException as exc:
        kind, message = classify(exc, host=urlsplit(url).hostname or "")
        return DeliveryOutcome(
            duration_ms=_elapsed_ms(started), error_kind=kind, error_message=message
        )
    except deadline.DeadlineExceeded as exc:
        return DeliveryOutcome(
            duration_ms=_elapsed_ms(started), error_kind=ErrorKind.TIMEOUT, error_message=str(exc)
        )
    except (ValueError, OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        # A request that can't even be written (say, a header value http.client refuses):
        # recorded like a connection failure, so it ends once the schedule does.
        return DeliveryOutcome(
            duration_ms=_elapsed_ms(started),
            error_kind=ErrorKind.CONNECTION,
            error_message=f"could not send the request: {_message(exc)}",
        )
    try:
        with response:
            text = _read_body(response)
        return DeliveryOutcome(
            status_code=response.status_code,
            duration_ms=_elapsed_ms(started),
            headers=_stored_headers(response.headers),
            body=storable(text),
        )
    except Exception as exc:
        # Whatever the receiver's bytes do to the parsing above, they make an outcome: a bad
        # answer is the endpoint's failure, recorded and retried like any other.
        logger.warning("response from a webhook endpoint could not be read", exc_info=True)
        return DeliveryOutcome(
            duration_ms=_elapsed_ms(started),
            error_kind=ErrorKind.INVALID_RESPONSE,
            error_message=f"the response could not be read: {_message(exc)}",
        )


def _stored_headers(headers) -> dict[str, str]:
    """Return the response headers to record: lower-cased, at most a count and a size."""
    kept: dict[str, str] = {}
    size, limit = 0, app_settings.RESPONSE_HEADERS_LIMIT_BYTES
    items = list(headers.items())
    for name, value in items[: app_settings.RESPONSE_HEADERS_LIMIT_COUNT]:
        name, value = storable(name.lower()), storable(value)
        size += len(name) + len(value)
        if size > limit:
            break
        kept[name] = value
    if len(kept) < len(items):
        kept[TRUNCATED_HEADER] = f"{len(items) - len(kept)} of {len(items)} headers not stored"
    return kept


def _read_body(response: requests.Response) -> str:
    """Return the response body up to the byte limit; stop early at an error (or the deadline)."""
    limit = app_settings.RESPONSE_BODY_LIMIT_BYTES
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (requests.RequestException, ProtocolError, OSError) as exc:
        # The status line already decided the outcome; a broken body only shortens the record.
        logger.debug("response body read stopped: %s", exc)
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


def classify(exc: BaseException, host: str = "") -> tuple[str, str]:
    """Return the error kind and a short message for a failed request to host."""
    message = _plain_message(exc, host) or _message(exc)
    if isinstance(exc, BlockedDestination):
        return ErrorKind.BLOCKED_DESTINATION, message
    if isinstance(exc, NameNotResolved) or _caused_by(exc, (NameResolutionError, socket.gaierror)):
        return ErrorKind.DNS, message
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorKind.TLS, message
    if isinstance(exc, requests.exceptions.Timeout):
        return ErrorKind.TIMEOUT, message
    if isinstance(exc, requests.exceptions.InvalidHeader | requests.exceptions.InvalidURL):
        return ErrorKind.CONNECTION, f"could not send the request: {message}"
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return ErrorKind.INVALID_RESPONSE, message
    if _caused_by(exc, (http.client.HTTPException,)) and not _caused_by(
        exc, (http.client.RemoteDisconnected, ConnectionError)
    ):
        return ErrorKind.INVALID_RESPONSE, message
    return ErrorKind.CONNECTION, message


# What a person reads instead of urllib3's "HTTPConnectionPool(host=..., port=...): Max retries
# exceeded with url: ... (Caused by NewConnectionError(...))": the first cause found, in order.
_PLAIN_CAUSES: list[tuple[tuple[type[BaseException], ...], str]] = [
    ((NameResolutionError, socket.gaierror), "name did not resolve"),
    ((ConnectionRefusedError,), "connection refused"),
    ((ConnectionResetError,), "connection reset by the endpoint"),
    ((http.client.RemoteDisconnected,), "the endpoint closed the connection without answering"),
    ((requests.exceptions.ConnectTimeout,), "timed out connecting"),
    ((requests.exceptions.Timeout, TimeoutError, socket.timeout), "timed out"),
]


def _plain_message(exc: BaseException, host: str) -> str:
    """Return a short human text for a failed request ("connection refused"), or ""."""
    own = _cause(exc, (BlockedDestination, NameNotResolved))
    if isinstance(own, BlockedDestination):
        return str(own.args[0]) if own.args else "blocked destination"
    if own is not None and isinstance(own.__cause__, resolver.NameLookupUnfinished):
        return str(own.args[0])  # it names the host and the deadline it ran out of
    if own is not None or _cause(exc, _PLAIN_CAUSES[0][0]):
        return f"name did not resolve: {host}" if host else "name did not resolve"
    tls = _cause(exc, (ssl.SSLError,))
    if tls is not None:
        reason = getattr(tls, "verify_message", "") or getattr(tls, "reason", "") or ""
        return f"TLS handshake failed: {reason}" if reason else "TLS handshake failed"
    for types, text in _PLAIN_CAUSES[1:]:
        if _cause(exc, types) is not None:
            return text
    return ""


def _caused_by(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    return _cause(exc, types) is not None


def _cause(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    """Return exc or the first exception in its chain (causes, args, reasons) of types."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, types):
            return current
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        stack += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def _message(exc: BaseException) -> str:
    # A status line or header quoted in the error is the receiver's bytes: NUL included.
    text = storable(str(exc) or type(exc).__name__)
    return text[:MAX_ERROR_MESSAGE_CHARS]


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
