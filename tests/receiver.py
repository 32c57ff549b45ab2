"""A real threaded HTTP receiver on 127.0.0.1 that records requests and answers as scripted."""

import http.server
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class Receiver:
    """Record every request; answer with the queued replies in order, then with the default."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0  # the most ever answered at once
        self.default = Reply()
        self._queue: list[Reply] = []
        self._lock = threading.Condition()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_with(self, *replies: Reply | int) -> None:
        """Queue replies (a Reply or a bare status code) for the next requests."""
        with self._lock:
            self._queue.extend(r if isinstance(r, Reply) else Reply(status=r) for r in replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Return the requests once at least count have arrived; fail after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.requests)} of {count} requests")
                self._lock.wait(left)
            return list(self.requests)

    def seconds_to_first_after(
        self, at: float, among: set[str] | None = None, timeout: float = 40.0
    ) -> float:
        """Return the seconds from at (monotonic) to the first request that arrived after it.

        among: only requests whose webhook-id is one of these count. Fail after timeout.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for request in self.requests:
                    if request.at > at and (
                        among is None or request.headers.get("webhook-id") in among
                    ):
                        return request.at - at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no request within {timeout}s after the fault")
                self._lock.wait(left)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default

    def _record(self, item: Received) -> None:
        with self._lock:
            self.requests.append(item)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._next_reply()
                receiver._record(Received("POST", self.path, headers, body, time.monotonic()))
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up (a timeout test)
                finally:
                    receiver._done()

            do_PUT = do_GET = do_POST

            def log_message(self, format, *args):
                pass

        return Handler
