"""The health chart: a webhook's success rate and latency per bucket, laid out for inline SVG."""

from typing import Any

WIDTH, HEIGHT = 480, 120  # SVG user units
GAP = 2  # between bars
DOT_MARGIN = 6  # keeps the slowest bucket's dot inside the frame


def _rate(succeeded: int, failed: int) -> float | None:
    finished = succeeded + failed
    return succeeded / finished if finished else None


def health_chart(series: list[dict[str, Any]], label_format: str) -> dict[str, Any]:
    """Return bars (success rate, height), latency dots and the window's totals for series.

    A bar's height is the share of finished deliveries that succeeded; an empty bucket draws no
    bar. Latency dots are scaled to the window's slowest bucket. label_format is a strftime
    pattern for each bucket's label ("%H:00", "%a %d").
    """
    slot = WIDTH / len(series)
    slowest = max((b["mean_ms"] or 0 for b in series), default=0) or 1
    bars = []
    for index, bucket in enumerate(series):
        rate = _rate(bucket["succeeded"], bucket["failed"])
        height = round(HEIGHT * rate) if rate is not None else 0
        mean_ms = round(bucket["mean_ms"]) if bucket["mean_ms"] is not None else None
        bars.append(
            {
                "label": bucket["start"].strftime(label_format),
                "x": round(index * slot + GAP / 2, 1),
                "width": round(slot - GAP, 1),
                "y": HEIGHT - height,
                "height": height,
                "rate": None if rate is None else round(100 * rate),
                "failing": rate is not None and rate < 1,
                "succeeded": bucket["succeeded"],
                "failed": bucket["failed"],
                "mean_ms": mean_ms,
                "dot_x": round(index * slot + slot / 2, 1),
                "dot_y": None
                if mean_ms is None
                else round(HEIGHT - DOT_MARGIN - (HEIGHT - 2 * DOT_MARGIN) * mean_ms / slowest),
            }
        )
    succeeded = sum(b["succeeded"] for b in series)
    failed = sum(b["failed"] for b in series)
    attempts = sum(b["attempts"] for b in series)
    total_ms = sum((b["mean_ms"] or 0) * b["attempts"] for b in series)
    rate = _rate(succeeded, failed)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "succeeded": succeeded,
        "failed": failed,
        "rate": None if rate is None else round(100 * rate, 1),
        "mean_ms": round(total_ms / attempts) if attempts else None,
        "slowest_ms": round(slowest) if attempts else None,
    }
