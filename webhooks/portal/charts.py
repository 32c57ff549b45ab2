"""The health chart: a webhook's attempts per bucket, succeeded and failed, as stacked bars."""

from typing import Any

WIDTH, HEIGHT = 480, 120  # SVG user units
GAP = 2  # between bars


def _rate(succeeded: int, attempts: int) -> float | None:
    return succeeded / attempts if attempts else None


def health_chart(series: list[dict[str, Any]], label_format: str) -> dict[str, Any]:
    """Return stacked bars (succeeded below, failed above) and the window's totals for series.

    A bar's height is its bucket's number of attempts, scaled to the busiest bucket; an empty
    bucket draws no bar. label_format is a strftime pattern for each bucket's label
    ("%H:00", "%a %d").
    """
    slot = WIDTH / len(series)
    busiest = max((b["attempts"] for b in series), default=0) or 1
    bars = []
    for index, bucket in enumerate(series):
        succeeded, failed = bucket["succeeded"], bucket["failed"]
        ok_height = round(HEIGHT * succeeded / busiest)
        bad_height = round(HEIGHT * (succeeded + failed) / busiest) - ok_height
        rate = _rate(succeeded, bucket["attempts"])
        bars.append(
            {
                "label": bucket["start"].strftime(label_format),
                "x": round(index * slot + GAP / 2, 1),
                "width": round(slot - GAP, 1),
                "ok_y": HEIGHT - ok_height,
                "ok_height": ok_height,
                "bad_y": HEIGHT - ok_height - bad_height,
                "bad_height": bad_height,
                "succeeded": succeeded,
                "failed": failed,
                "attempts": bucket["attempts"],
                "rate": None if rate is None else round(100 * rate),
                "mean_ms": round(bucket["mean_ms"]) if bucket["mean_ms"] is not None else None,
            }
        )
    succeeded = sum(b["succeeded"] for b in series)
    failed = sum(b["failed"] for b in series)
    attempts = sum(b["attempts"] for b in series)
    total_ms = sum((b["mean_ms"] or 0) * b["attempts"] for b in series)
    rate = _rate(succeeded, attempts)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        # under the chart: the first, middle and last buckets' labels
        "ticks": [bars[0]["label"], bars[len(bars) // 2]["label"], bars[-1]["label"]],
        "succeeded": succeeded,
        "failed": failed,
        "attempts": attempts,
        "busiest": busiest if attempts else 0,
        "rate": None if rate is None else round(100 * rate, 1),
        "mean_ms": round(total_ms / attempts) if attempts else None,
    }
