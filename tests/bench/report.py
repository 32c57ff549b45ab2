"""Percentiles and the one results table that `make bench` prints."""

import math
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import django
import psycopg


@dataclass
class Row:
    """One line of the table: a measure of a scenario, against its target when it has one."""

    scenario: str
    measure: str
    value: str
    target: str = ""
    passed: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (0-100) of values, nearest-rank; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Return seconds as a short millisecond string."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def latency_text(latencies: list[float]) -> str:
    return " / ".join(ms(percentile(latencies, p)) for p in (50, 95, 99))


def table(rows: list[Row]) -> str:
    """Return rows as a Markdown table, its columns padded so it also reads in a terminal."""
    header = ("scenario", "measure", "value", "target", "")
    lines = [header, *((r.scenario, r.measure, r.value, r.target, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def render(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([render(header), rule, *(render(line) for line in lines[1:])])


def machine(database_url: str, redis_version: str, load: str) -> str:
    """Return one paragraph naming the machine and the versions the numbers were taken on."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(database_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kib / 1024 / 1024:.1f} GiB RAM; "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"PostgreSQL {pg}, Redis {redis_version}; load average before the run {load}; "
        f"git {_git_revision()}"
    )


def _git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
