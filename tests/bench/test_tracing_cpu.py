"""`make bench` runs this too: CPU per delivery and per emit with tracing off, then on (OTLP).

Each mode runs tests/bench/delivery_cpu.py in its own process (tracing is chosen at Django's
start); the figures are printed for the report, next to docs/performance.md's ("Tracing").
BENCH_TRACING_EVENTS sets the events per run (default 500).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEDIAN = re.compile(r"median of \d+: ([\d.]+) ms CPU per emit, ([\d.]+) ms CPU per delivery")


def _figures(*options: str) -> tuple[float, float]:
    events = os.environ.get("BENCH_TRACING_EVENTS", "500")
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.delivery_cpu", "--events", events, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = MEDIAN.search(done.stdout)
    assert done.returncode == 0 and found, done.stdout + done.stderr
    return float(found.group(1)), float(found.group(2))


@pytest.mark.timeout(900)
def test_tracing_off_and_on_cpu_per_delivery():
    off, on = _figures(), _figures("--tracing")
    print(f"\ntracing off: {off[1]:.3f} ms CPU per delivery, {off[0]:.3f} per emit")
    print(f"tracing on:  {on[1]:.3f} ms CPU per delivery, {on[0]:.3f} per emit (OTLP export)")
    assert on[1] > 0 and off[1] > 0
