"""Pure arithmetic over what the database already grouped: percentiles from a histogram of
(value, how many), shares, and the commissioner's suppression of small numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# Counts of 1 to 4 could point at a person (one caller from a small place, one risk level on one
# night): the commissioner sees "<5" instead, wherever the figure appears.
SUPPRESSED = "<5"
SMALLEST_SHOWN = 5


@dataclass(frozen=True)
class Figure:
    """A number and how many people or calls it rests on (``base``), so suppression can tell a
    median of three waits from a median of three hundred."""

    value: float | int | None
    base: int

    @classmethod
    def count(cls, n: int) -> Figure:
        return cls(n, n)


Cell = str | float | int | None


@dataclass(frozen=True)
class Spread:
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    longest: float | None


def nearest_rank(histogram: list[tuple[float, int]], share: float) -> float | None:
    """The smallest value with at least ``share`` of the counted items at or below it."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value, n in sorted(histogram):
        seen += n
        if seen >= rank:
            return value
    return None  # pragma: no cover - the ranks always reach the total


def spread(rows: Iterable[tuple[float | None, int]]) -> Spread:
    histogram = [(float(v), int(n)) for v, n in rows if v is not None]
    total = sum(n for _, n in histogram)
    if not total:
        return Spread(0, None, None, None, None)
    return Spread(
        total,
        sum(v * n for v, n in histogram) / total,
        nearest_rank(histogram, 0.5),
        nearest_rank(histogram, 0.9),
        max(v for v, _ in histogram),
    )


def share(part: int, whole: int) -> Figure:
    """A percentage, resting on the smallest of the counts it reveals: 98% of 100 tells of 2."""
    revealed = [n for n in (part, whole - part) if n > 0]
    return Figure(round(100 * part / whole, 1) if whole else None, min([whole, *revealed]))


def rounded(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def shown(figure: Figure | Cell, *, exact: bool) -> Cell:
    """A cell as this reader may see it: the exact value, or "<5" when it rests on 1 to 4."""
    if not isinstance(figure, Figure):
        return figure
    if not exact and 0 < figure.base < SMALLEST_SHOWN:
        return SUPPRESSED
    return figure.value
