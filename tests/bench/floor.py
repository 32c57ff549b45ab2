"""The machine's floor for a lone delivery: the least a PostgreSQL + Redis + HTTP design costs.

Not the service: a stand-in with nothing but what a durable, signed webhook delivery with an
attempt history must do. The emitter (this process, one thread) writes the delivery (one INSERT
and its commit) and pushes its id onto a Redis list; a worker process (one thread) pops it,
claims it (one UPDATE ... RETURNING its body, and the commit), signs it (HMAC-SHA256, as
Standard Webhooks does), POSTs it over a kept-alive connection with requests' adapter (as
transport.Client does) to the bench receiver, and records the attempt (one statement: the
delivery updated and an attempt row inserted with the request's and response's headers, and the
commit). With `--statements 1` the record goes with the next claim instead, in one statement
(as a lingering lane could do): one statement per delivery for the worker. No lanes, leases
renewed, project slots, retries, health, metrics or tracing: whatever the service costs above
this is what those (and its code) cost.

Run: `python -m tests.bench.floor [--rate 100] [--count 1000] [--statements 2]`; `--rate 0`
emits as fast as the one thread can (the burst). Prints the CPU per delivery of each process
(from /proc/<pid>/task/*/schedstat, in nanoseconds: every thread, a fraction of a millisecond
shows), its wake-ups per delivery (times it was scheduled in), the rates, and how many attempts
were recorded.
It needs the PostgreSQL server of DATABASE_URL (its database wh_floor is made and dropped)
and redis-server on the PATH; the receiver is tests.bench.receiver.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from tests.bench.topology import free_port, wait_until

_BODY = json.dumps({"id": "0" * 36, "data": {"text": "x" * 1100}})
_TABLES = (
    """CREATE TABLE delivery (id uuid PRIMARY KEY, status text NOT NULL, body jsonb NOT NULL,
    attempts int NOT NULL DEFAULT 0, code int, updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE attempt (id bigserial PRIMARY KEY, delivery_id uuid NOT NULL REFERENCES
    delivery, code int, request_headers jsonb NOT NULL, response_headers jsonb NOT NULL,
    response_body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX ON attempt (delivery_id)",
)
_CLAIM = (
    "UPDATE delivery SET status = 'delivering', updated_at = now() WHERE id = %s RETURNING body"
)
_RECORD_CTE = """d AS (UPDATE delivery SET status = 'succeeded', attempts = attempts + 1,
    code = %(code)s, updated_at = now() WHERE id = %(done)s RETURNING id),
a AS (INSERT INTO attempt (delivery_id, code, request_headers, response_headers, response_body)
    SELECT id, %(code)s, %(sent)s::jsonb, %(got)s::jsonb, %(text)s FROM d RETURNING 1)"""
_RECORD = f"WITH {_RECORD_CTE} SELECT count(*) FROM a"
# The record of the last delivery and the claim of the next, in one statement and commit.
_RECORD_AND_CLAIM = (
    f"WITH {_RECORD_CTE}, c AS ({_CLAIM.replace('%s', '%(next)s')})"
    " SELECT body FROM c, (SELECT count(*) FROM a) AS x"
)
_SECRET = b"floor-secret-of-32-bytes-exactly"


def _server_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return base.rsplit("/", 1)[0]


def _schedstat(pid: int) -> tuple[int, int]:
    """Return pid's CPU nanoseconds and times scheduled in, all its threads summed."""
    ns = switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run, _, slices = (int(v) for v in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        ns, switches = ns + run, switches + slices
    return ns, switches


def _worker(database: str, redis_port: int, receiver: str, statements: int) -> None:
    import redis
    from requests import PreparedRequest
    from requests.adapters import HTTPAdapter

    conn = psycopg.connect(database, autocommit=True, prepare_threshold=0)
    queue = redis.Redis(port=redis_port)
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1)
    print(conn.info.backend_pid, flush=True)
    held = None  # with --statements 1: the last record, written with the next claim
    while True:
        _, raw = queue.blpop(["q"])
        if raw == b"stop":
            if held:
                conn.execute(_RECORD, held)
            return
        delivery_id = uuid.UUID(raw.decode())
        if held:
            (body,) = conn.execute(_RECORD_AND_CLAIM, {**held, "next": delivery_id}).fetchone()
        else:
            (body,) = conn.execute(_CLAIM, (delivery_id,)).fetchone()
        payload = json.dumps(body).encode()
        headers = _signed(raw.decode(), payload)
        request = PreparedRequest()
        request.prepare_method("POST")
        request.url = receiver
        request.prepare_headers(headers)
        request.prepare_body(payload, None)
        response = adapter.send(request, stream=True, timeout=5)
        text = response.content.decode(errors="replace")
        record = {
            "code": response.status_code,
            "done": delivery_id,
            "sent": json.dumps({k: v for k, v in headers.items() if k != "webhook-signature"}),
            "got": json.dumps({k.lower(): v for k, v in response.headers.items()}),
            "text": text,
        }
        if statements == 2:
            conn.execute(_RECORD, record)
        else:
            held = record


def _signed(message_id: str, payload: bytes) -> dict[str, str]:
    """Return the request's headers, signed as Standard Webhooks v1 does."""
    import base64
    import hashlib
    import hmac

    timestamp = str(int(time.time()))
    signed = f"{message_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_SECRET, signed, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


_INSERT = "INSERT INTO delivery (id, status, body) VALUES (%s, 'pending', %s::jsonb)"
_WARM = 50  # deliveries before the measured ones: prepared statements, kept-alive connections


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s; 0: at once")
    parser.add_argument("--count", type=int, default=1000, help="deliveries measured")
    parser.add_argument("--statements", type=int, choices=(1, 2), default=2)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)  # the worker process
    args = parser.parse_args()
    if args.worker:
        database, redis_port, receiver, statements = args.worker
        _worker(database, int(redis_port), receiver, int(statements))
        return
    server = _server_url()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS wh_floor")
        admin.execute("CREATE DATABASE wh_floor")
    procs: dict[str, subprocess.Popen] = {}
    try:
        _measure(args, f"{server}/wh_floor", procs)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS wh_floor WITH (FORCE)")


def _measure(args: argparse.Namespace, database: str, procs: dict) -> None:
    """Start Redis, the receiver and the worker (into procs), emit, and print the figures."""
    import redis

    redis_port, receiver_port = free_port(), free_port()
    procs["redis"] = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    procs["receiver"] = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.receiver", str(receiver_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs["receiver"].stdout.readline()  # "ready"
    conn = psycopg.connect(database, autocommit=True, prepare_threshold=0)
    for statement in _TABLES:
        conn.execute(statement)
    time.sleep(0.3)  # Redis listening
    worker = [database, str(redis_port), f"http://127.0.0.1:{receiver_port}/hook"]
    procs["worker"] = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.floor", "--worker", *worker, str(args.statements)],
        stdout=subprocess.PIPE,
        text=True,
    )
    pids = {
        "emit": os.getpid(),
        "emit's postgres": conn.info.backend_pid,
        "worker": procs["worker"].pid,
        "worker's postgres": int(procs["worker"].stdout.readline()),
        "redis": procs["redis"].pid,
        "receiver": procs["receiver"].pid,
    }
    queue = redis.Redis(port=redis_port)
    _emit(conn, queue, _WARM, 0)
    time.sleep(1.0)
    before = {name: _schedstat(pid) for name, pid in pids.items()}
    started = time.monotonic()
    _emit(conn, queue, args.count, args.rate)
    emitted = time.monotonic()
    count_url = f"http://127.0.0.1:{receiver_port}/_count"

    def arrived() -> bool:
        return int(json.loads(_get(count_url))["ok"]) >= _WARM + args.count

    wait_until(arrived, 60, "every delivery at the receiver", interval=0.02)
    finished = time.monotonic()
    after = {name: _schedstat(pid) for name, pid in pids.items()}
    queue.lpush("q", "stop")
    procs["worker"].wait(10)
    (recorded,) = conn.execute("SELECT count(*) FROM attempt").fetchone()
    conn.close()
    print(f"rate {args.rate:g}/s, {args.count} deliveries, worker statements {args.statements}")
    total = 0.0
    for name in pids:
        ms = (after[name][0] - before[name][0]) / 1e6 / args.count
        wakes = (after[name][1] - before[name][1]) / args.count
        total += ms
        print(f"  {name:18} {ms:6.3f} ms  {wakes:5.2f} wake-ups per delivery")
    print(f"  {'total':18} {total:6.3f} ms")
    print(
        f"  emitted {args.count / (emitted - started):.0f}/s, "
        f"delivered {args.count / (finished - started):.0f}/s, "
        f"{recorded} of {_WARM + args.count} attempts recorded"
    )


def _emit(conn: psycopg.Connection, queue, count: int, rate: float) -> None:
    """Write count deliveries and push each one's id, rate a second (0: as fast as possible)."""
    started = time.monotonic()
    for n in range(count):
        if rate:
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        key = uuid.uuid4()
        conn.execute(_INSERT, (key, _BODY))
        queue.lpush("q", str(key))


def _get(url: str) -> str:
    from urllib.request import urlopen

    with urlopen(url) as response:
        return response.read().decode()


if __name__ == "__main__":
    main()
