"""Processes for integration tests: a private redis-server, the worker and the scheduler."""

import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis
from django.db import connection

from tests.support import wait_for as _wait

ROOT = Path(__file__).resolve().parent.parent
TASKIQ = str(Path(sys.executable).with_name("taskiq"))


def database_url() -> str:
    """Return the URL of the test database, for processes started by a test."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def procfile_command(name: str) -> list[str]:
    """Return the Procfile's command line for a process, ready to run from .venv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            words = shlex.split(line.split(":", 1)[1])
            program = str(Path(sys.executable).with_name(words[0]))
            return [program if Path(program).exists() else words[0], *words[1:]]
    raise LookupError(f"no {name} in the Procfile")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own: these tests stop and flush it."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait(self._ping, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def _ping(self) -> bool:
        try:
            return self.client().ping()
        except redis.ConnectionError:
            return False


class Engine:
    """The worker and scheduler processes, started with the test database and our Redis."""

    def __init__(
        self,
        redis_url: str,
        database_url: str,
        logdir: Path,
        settings_module: str = "tests.worker_settings",
    ) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PYTHONPATH": str(ROOT),
        }
        self.logdir = logdir
        self.workers: dict[str, subprocess.Popen] = {}
        self.scheduler: subprocess.Popen | None = None

    @property
    def worker(self) -> subprocess.Popen | None:
        return self.workers.get("worker")

    def _spawn(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115  (lives as long as the process)
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach its children too
        )

    def start_worker(self, *command: str, name: str = "worker") -> None:
        """Start a worker: one process of 4 threads, unless command says otherwise."""
        self.workers[name] = self._spawn(
            name,
            *command
            or (
                TASKIQ,
                "worker",
                "webhooks_project.worker:broker",
                "webhooks.tasks",
                "--workers=1",
                "--max-threadpool-threads=4",
                "--max-async-tasks=4",
                "--wait-tasks-timeout=5",
            ),
        )

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn("scheduler", sys.executable, "manage.py", "webhooks_scheduler")

    def terminate_worker(self) -> int:
        """Send SIGTERM, as a process manager does on shutdown; return the exit status."""
        os.killpg(self.worker.pid, signal.SIGTERM)
        return self.worker.wait(15)

    def kill_worker(self, name: str = "worker") -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(10)

    def worker_of(self, pid: int) -> str | None:
        """Return the name of the worker whose process group holds pid (a taskiq child)."""
        for name, process in self.workers.items():
            try:
                if process.poll() is None and os.getpgid(pid) == process.pid:
                    return name
            except ProcessLookupError:
                return None
        return None

    def stop(self) -> None:
        for process in (*self.workers.values(), self.scheduler):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
