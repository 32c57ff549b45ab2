"""The production topology on this machine: a private Redis, the wh_bench database, the receiver,
and the web, worker and scheduler processes started with the Procfile's own command lines."""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATABASE_NAME = "wh_bench"
SETTINGS_MODULE = "tests.bench.settings"
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Return predicate()'s first truthy value, polling until timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def procfile_commands(env: dict[str, str]) -> dict[str, list[str]]:
    """Return the Procfile's command of each process type, ${VAR:-default} expanded from env."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and not line.startswith("#"):
            expanded = _VARIABLE.sub(lambda m: env.get(m[1]) or m[2] or "", command)
            commands[name.strip()] = shlex.split(expanded)
    return commands


def bench_database_url() -> str:
    """Return the URL of the benchmark database: DATABASE_URL's server, database wh_bench."""
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    return base.rsplit("/", 1)[0] + "/" + DATABASE_NAME


def recreate_database(url: str, drop_only: bool = False) -> None:
    """Drop the benchmark database (closing its sessions) and, unless drop_only, create it."""
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def peak_rss_kib(pid: int) -> dict[int, int]:
    """Return VmHWM (peak resident set, KiB) of pid, then of each of its descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    family, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        family += frontier
    peaks = {}
    for member in family:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            peaks[member] = int(match[1])
    return peaks


class Topology:
    """Start and stop every process of the benchmark; logs go to logdir."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.redis_port, self.receiver_port, self.web_port = free_port(), free_port(), free_port()
        self.database_url = bench_database_url()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PORT": str(self.web_port),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
        self.commands = procfile_commands(self.env)
        if os.environ.get("BENCH_WORKER"):  # try another worker command line (tuning)
            self.commands["worker"] = shlex.split(os.environ["BENCH_WORKER"])
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        """Start command as process name in its own process group, logging to logdir."""
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115  (kept open by the child)
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # signals to the group reach taskiq's child processes too
        )
        log.close()
        self.processes[name] = process
        return process

    def start_base(self) -> None:
        """Start Redis and the receiver and create the empty database."""
        self.start(
            "redis",
            [
                *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.logdir)),
            ],
        )
        self.start(
            "receiver", [sys.executable, "-m", "tests.bench.receiver", str(self.receiver_port)]
        )
        wait_until(lambda: self._answers(self.receiver_url + "/_count"), 20, "the receiver")
        wait_until(self._redis_up, 20, "redis-server")
        recreate_database(self.database_url)

    def start_services(self) -> None:
        """Start the web, worker and scheduler processes exactly as the Procfile runs them."""
        self.start_worker()
        self.start("scheduler", self.commands["scheduler"])
        self.start("web", self.commands["web"])
        wait_until(lambda: self._answers(self.web_url + "/healthz"), 60, "the web process")

    def start_worker(self) -> None:
        self.start("worker", self.commands["worker"])

    def worker_peak_rss_kib(self) -> dict[int, int]:
        """Return VmHWM of the worker's supervisor and of each worker child process."""
        return peak_rss_kib(self.processes["worker"].pid)

    def stop(self, name: str, timeout: float = 30) -> None:
        """Stop process name and its children: SIGTERM, then SIGKILL after timeout seconds."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop_all(self, keep_database: bool = False) -> None:
        for name in ("web", "scheduler", "worker", "receiver", "redis"):
            self.stop(name)
        if not keep_database:
            recreate_database(self.database_url, drop_only=True)

    def redis_version(self) -> str:
        """Return the private redis-server's version."""
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=2) as sock:
            sock.sendall(b"INFO server\r\n")
            info = sock.recv(65536).decode()
        match = re.search(r"redis_version:(\S+)", info)
        return match[1] if match else "unknown"

    def _redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False
