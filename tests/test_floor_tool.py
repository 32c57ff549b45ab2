"""The floor tool (tests/bench/floor.py) runs, delivers every event and reports each process.

docs/performance.md compares the service with its figures, so a tool that silently delivered
fewer events, or lost a process from its table, would make that comparison wrong.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("emit", "emit's postgres", "worker", "worker's postgres", "redis", "receiver")


@pytest.mark.parametrize("statements", ["1", "2"])
def test_the_floor_tool_delivers_every_event_and_reports_each_process(statements):
    command = [sys.executable, "-m", "tests.bench.floor", "--rate", "0", "--count", "40"]
    done = subprocess.run(
        [*command, "--statements", statements],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for name in PROCESSES:
        found = re.search(rf"^  {re.escape(name)} +([0-9.]+) ms", done.stdout, re.MULTILINE)
        assert found, f"{name} missing from:\n{done.stdout}"
    assert float(re.search(r"^  total +([0-9.]+) ms", done.stdout, re.MULTILINE)[1]) > 0
    # Every delivery, the 50 of the warm-up included, reached the receiver and was recorded.
    assert re.search(r"delivered \d+/s, 90 of 90 attempts recorded", done.stdout), done.stdout
