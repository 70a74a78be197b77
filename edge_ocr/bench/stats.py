"""Timing statistics."""

from __future__ import annotations

import statistics


def summarize_ms(values: list[float]) -> dict:
    """n, mean, median, p90 (nearest rank), min and max of a list of milliseconds, rounded to 0.01 ms."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, max(0, -(-9 * len(ordered) // 10) - 1))]
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "p90": round(p90, 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }
