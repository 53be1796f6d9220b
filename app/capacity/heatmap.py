"""The week's under- and over-staffing as an SVG drawn on the server. Pure.

Seven rows (Monday first) by 24 hours in the line's time; red where fewer listeners were on than
the targets need, blue where more. The numbers themselves are in the table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from transfers.hours import FULL_DAY_NAMES

CELL_W, CELL_H, LEFT, TOP = 30, 26, 40, 18
# Three listeners short (or spare) is as deep as the colour goes: past that the hour is plainly wrong.
DEEPEST = 3.0


def shade(gap: float, needed: int) -> str:
    """Pure: the cell's colour for a gap (listeners on minus needed)."""
    if needed == 0 and gap == 0:
        return "#1f2630"
    depth = min(abs(gap) / DEEPEST, 1.0)
    if gap < 0:
        return f"rgb({int(120 + 135 * depth)},{int(60 - 30 * depth)},{int(60 - 30 * depth)})"
    if gap >= 1:
        return f"rgb({int(40 - 20 * depth)},{int(90 + 40 * depth)},{int(150 + 90 * depth)})"
    return "#3a4350"


def _label(gap: float) -> str:
    return f"{gap:+.0f}" if abs(gap) >= 0.5 else "0"


def draw_heatmap(hours: Sequence[dict[str, Any]], *, title: str) -> Markup:
    width, height = LEFT + 24 * CELL_W, TOP + 7 * CELL_H
    parts = [
        f'<svg class="heatmap" viewBox="0 0 {width} {height}" role="img" aria-labelledby="heatmap-title" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="heatmap-title">{escape(title)}</title>'
    ]
    for hour in range(0, 24, 3):
        parts.append(f'<text x="{LEFT + hour * CELL_W + 2}" y="12" class="axis">{hour:02d}</text>')
    for day in range(7):
        y = TOP + day * CELL_H
        parts.append(f'<text x="0" y="{y + 17}" class="axis">{FULL_DAY_NAMES[day][:3]}</text>')
        for hour in range(24):
            cell = hours[day * 24 + hour]
            x = LEFT + hour * CELL_W
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL_W - 2}" height="{CELL_H - 2}" rx="3" '
                f'fill="{shade(cell["gap"], cell["needed"])}"/>'
            )
            if cell["needed"] or cell["available"] or cell["added"]:
                parts.append(f'<text x="{x + CELL_W / 2 - 1}" y="{y + 16}" class="cell">{_label(cell["gap"])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
