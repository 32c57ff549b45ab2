"""Across a PostgreSQL crash (`pg_ctl stop -m immediate`), a claim survives: the delivery in
flight is not claimed by another worker, and its webhook gets no lane beyond its cap.

The crash is of a private cluster made for the test (initdb into a temporary directory, its own
port), never of the shared server. Its WAL writer waits 10 s between flushes, so a commit that
did not wait for its own flush would be lost for certain: the test shows what a claim that
skipped the flush would lose. Skipped when initdb is not installed.
"""

import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.processes import ROOT, _free_port

pytestmark = pytest.mark.integration

INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


class PrivateCluster:
    """A PostgreSQL cluster of our own, in a temporary directory, run as a non-root user."""

    def __init__(self) -> None:
        self.bin = Path(INITDB[-1]).parent
        self.port = _free_port()
        self.home = Path(tempfile.mkdtemp(prefix="webhooks-pg-"))
        self.data = self.home / "data"
        self.user = None
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as postgres (or nobody)
            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                os.chown(self.home, entry.pw_uid, entry.pw_gid)
                break

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        settings = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.home}'",
            "wal_writer_delay = 10000ms",
            "wal_writer_flush_after = 0",
            "shared_buffers = 16MB",
        ]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(settings) + "\n")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.data / "log"), "start")
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE crash")

    def url(self, database: str = "crash") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def cluster():
    if not INITDB or (not shutil.which("runuser") and os.geteuid() == 0):
        pytest.skip("no initdb (/usr/lib/postgresql/*/bin/initdb, and runuser when root)")
    running = PrivateCluster()
    try:
        running.start()
    except subprocess.CalledProcessError as exc:
        running.stop()
        pytest.skip(f"could not start a private PostgreSQL cluster: {exc.stderr.decode()[-300:]}")
    yield running
    running.stop()


def test_a_claim_survives_a_crash_so_no_delivery_is_in_flight_twice(cluster):
    # given a lane sending one delivery to an endpoint that takes 6 s to answer, when the
    # database crashes while the request is in flight and comes back
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": cluster.url(),
        "PGDATA": str(cluster.data),
        "PG_CTL": str(cluster.bin / "pg_ctl"),
        "PG_CTL_USER": cluster.user or "",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    seen = json.loads(done.stdout.decode().strip().splitlines()[-1])
    # then the claim is still there: the delivery is delivering, no other worker claims it, and
    # the webhook's one lane is still held (its cap holds)
    assert seen["status_after_crash"] == "delivering", seen
    assert (seen["claimed_again"], seen["lane_taken_again"]) == (False, False), seen
    # and the holder records its outcome once the database is back: one request, one attempt
    assert (seen["requests"], seen["final_status"], seen["attempts"]) == (1, "succeeded", 1), seen
