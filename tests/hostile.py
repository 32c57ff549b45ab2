"""Hostile endpoints on 127.0.0.1: servers that drip, stall, never end their answer, or answer
with raw bytes no HTTP library would send."""

import re
import socket
import threading
import time
from collections.abc import Callable

DRIP_SECONDS = 0.2  # between two bytes of a dripping answer


def _drip(conn: socket.socket, data: bytes) -> None:
    for byte in data:
        conn.sendall(bytes([byte]))
        time.sleep(DRIP_SECONDS)


def _forever(conn: socket.socket, head: bytes, unit: bytes) -> None:
    conn.sendall(head)
    while True:
        conn.sendall(unit)
        time.sleep(DRIP_SECONDS)


def _until_closed(conn: socket.socket) -> None:
    while conn.recv(65536):
        pass


OK = b"HTTP/1.1 200 OK\r\n"
MODES = {
    # the whole answer, one byte at a time: each read is quick, the answer never done in time
    "drip": lambda c: _drip(c, OK + b"Content-Length: 2\r\n\r\nok" * 1),
    # accepts and reads the request, then says nothing until the client hangs up
    "silent": lambda c: _until_closed(c),
    # a status line, then header lines without end
    "endless-headers": lambda c: _forever(c, OK, b"X-More: yes\r\n"),
    # a chunked body that never ends
    "endless-body": lambda c: _forever(
        c, OK + b"Transfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n"
    ),
    # a huge header block, sent fast: the answer is cut at the deadline or refused
    "huge-headers": lambda c: _forever(c, OK, b"X-Big: " + b"a" * 8000 + b"\r\n"),
}


class HostileServer:
    """Accept connections and answer each request the way `mode` says; count the requests."""

    def __init__(self, mode: str | Callable[[socket.socket], None]) -> None:
        self.mode = MODES[mode] if isinstance(mode, str) else mode
        self.requests = 0
        self.in_flight = 0  # requests read whose connection the client has not closed yet
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook"

    def start(self) -> "HostileServer":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                head, _, body = request.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                missing = int(length.group(1)) - len(body) if length else 0
                while missing > 0:  # the body may come in packets of its own
                    chunk = conn.recv(missing)
                    if not chunk:
                        return
                    missing -= len(chunk)
                with self._lock:
                    self.requests += 1
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    self.mode(conn)
                finally:
                    with self._lock:
                        self.in_flight -= 1
            except OSError:
                pass  # the client gave up: what a deadline does


class RawServer(HostileServer):
    """Answer every request with the bytes in `answer`, whatever they are, then hang up."""

    def __init__(self) -> None:
        super().__init__(lambda conn: conn.sendall(self.answer))
        self.answer = OK + b"Content-Length: 0\r\n\r\n"
