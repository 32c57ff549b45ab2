"""`make bench` runs this: the whole benchmark (python -m tests.bench), its table on stdout.

Not part of `make test` (pyproject's norecursedirs). BENCH_ARGS passes options through, e.g.
BENCH_ARGS="--scale 0.1 --backlog 2000" for a quick run. Missed targets don't fail it: the
table says which; a harness that breaks does.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1800)
def test_the_benchmark_runs_and_prints_its_table():
    arguments = shlex.split(os.environ.get("BENCH_ARGS", ""))
    done = subprocess.run([sys.executable, "-m", "tests.bench", *arguments], cwd=ROOT, check=False)
    assert done.returncode == 0
    assert (ROOT / "bench-results" / "latest.md").read_text().startswith("| scenario")
