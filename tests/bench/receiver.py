"""A fast asyncio HTTP/1.1 receiver for the benchmark: keep-alive, timestamps every arrival.

Run as `python -m tests.bench.receiver PORT`; it prints "ready" once listening. Besides the
webhook requests it answers three control paths on the same port:

- POST /_reset {"fail_first": bool}: forget everything; with fail_first, the first attempt of
  each delivery (by its webhook-id) gets a 500 and later attempts a 200.
- GET /_count: {"ok": n, "failed": n, "hung": n, "hung_at_once": n} so far.
- GET /_records: {"ok": [[webhook_id, event_id, monotonic_seconds], ...], "failed": n}.

A webhook path starting with /hang is never answered: the request is held until the client
gives up (the noisy-neighbour scenario), and the most such requests held at once is counted.

Arrival times are time.monotonic(): CLOCK_MONOTONIC is one clock for every process of the
machine, so the harness compares them with its own emit times.
"""

import asyncio
import json
import sys
import time

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_FAIL = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"
_ID_PREFIX = b'{"id":"'  # every envelope starts with the event id (events.render_envelope)


class Recorder:
    """What arrived: successful receipts with their time, and how many attempts were failed."""

    def __init__(self) -> None:
        self.reset(fail_first=False)

    def reset(self, fail_first: bool) -> None:
        self.fail_first = fail_first
        self.ok: list[tuple[str, str, float]] = []
        self.failed = 0
        self.seen: set[str] = set()
        self.hung = 0  # /hang requests received
        self.holding = 0  # /hang requests held now
        self.hung_at_once = 0  # the most held at once

    def answer(self, webhook_id: str, body: bytes) -> bytes:
        """Record one webhook request and return the response bytes to send."""
        now = time.monotonic()
        if self.fail_first and webhook_id not in self.seen:
            self.seen.add(webhook_id)
            self.failed += 1
            return _FAIL
        event_id = body[7:43].decode() if body.startswith(_ID_PREFIX) else ""
        self.ok.append((webhook_id, event_id, now))
        return _OK

    def control(self, method: str, path: str, body: bytes) -> bytes:
        """Answer a control request (see the module docstring)."""
        if method == "POST" and path == "/_reset":
            self.reset(bool(json.loads(body or b"{}").get("fail_first")))
            payload = {"reset": True}
        elif path == "/_count":
            payload = {
                "ok": len(self.ok),
                "failed": self.failed,
                "hung": self.hung,
                "hung_at_once": self.hung_at_once,
            }
        elif path == "/_records":
            payload = {"ok": self.ok, "failed": self.failed}
        else:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        data = json.dumps(payload).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}"
        return head.encode() + b"\r\n\r\n" + data


async def _serve_connection(
    recorder: Recorder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            if path.startswith("/hang"):
                await _hold(recorder, reader)
                return
            if path.startswith("/_"):
                response = recorder.control(method, path, body)
            else:
                response = recorder.answer(headers.get("webhook-id", ""), body)
            writer.write(response)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _hold(recorder: Recorder, reader: asyncio.StreamReader) -> None:
    """Answer nothing; return when the client closes the connection."""
    recorder.hung += 1
    recorder.holding += 1
    recorder.hung_at_once = max(recorder.hung_at_once, recorder.holding)
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    finally:
        recorder.holding -= 1


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:port until killed."""
    recorder = Recorder()
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(recorder, r, w), "127.0.0.1", port, backlog=1024
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
