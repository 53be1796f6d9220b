"""Charts drawn on the server as SVG, in the page's night colours. Pure: a table in, markup out.
Every chart names itself for screen readers; the numbers are in the table beside it."""

from __future__ import annotations

from dataclasses import replace
from html import escape

from app.reports.callers_said import HELPED_HEADING
from app.reports.figures import SUPPRESSED, Cell
from app.reports.tables import Table

TEXT, MUTED, LINE = "#e6edf3", "#9aa7b4", "#30363d"
SERIES = ("#3aa0ff", "#9aa7b4")  # this period, the period before
# Low hours recede into the panel; the busiest glow amber so the evening peak stands out.
COLD, WARM, HOT = (0x1F, 0x26, 0x30), (0x1F, 0x6F, 0xB5), (0xF0, 0xB4, 0x29)
WIDTH, BAR_W, BAR_H = 420, 330, 16


def _number(cell: Cell) -> float | None:
    return float(cell) if isinstance(cell, int | float) and not isinstance(cell, bool) else None


def _said(cell: Cell) -> str:
    if cell is None:
        return "–"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _label(row: list[Cell], columns: int) -> str:
    text = " · ".join(str(c) for c in row[:columns] if c)
    return text if len(text) <= 56 else text[:55] + "…"


def _frame(title: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}: the numbers are in the table beside this chart" class="chart" '
        f'font-family="system-ui, sans-serif" font-size="13">' + "".join(body) + "</svg>"
    )


def _legend(table: Table) -> list[str]:
    names = [table.columns[i] for i in table.value_columns]
    return [
        f'<rect x="{n * 210}" y="6" width="12" height="12" fill="{SERIES[n]}"/>'
        f'<text x="{n * 210 + 18}" y="17" fill="{MUTED}">{escape(name if len(name) <= 28 else name[:27] + "…")}</text>'
        for n, name in enumerate(names)
    ]


def draw_bars(table: Table, cells: list[list[Cell]], *, per_row: bool) -> str:
    """Horizontal bars under each row's name, this period above the period before; ``per_row``
    scales each row to itself (its figures are in different units), otherwise one scale for all.
    Narrow on purpose: it stays legible when a phone shrinks it."""
    rows = [r for r in cells if any(_number(r[i]) is not None or r[i] == SUPPRESSED for i in table.value_columns)]
    series = len(table.value_columns)
    top, label_h = 30, 18
    band = label_h + BAR_H * series + 10
    body = _legend(table)
    everything = [_number(r[i]) or 0 for r in rows for i in table.value_columns]
    for n, row in enumerate(rows):
        y = top + n * band
        values = [row[i] for i in table.value_columns]
        scale = max([_number(v) or 0 for v in values] if per_row else everything, default=0) or 1
        # The calls table's second column is the unit: it follows the number, not the name.
        label_columns, unit = (1, f" {row[1]}") if table.key == "calls" else (table.label_columns, "")
        body.append(f'<text x="0" y="{y + 13}" fill="{TEXT}">{escape(_label(row, label_columns))}</text>')
        for s, value in enumerate(values):
            by = y + label_h + s * BAR_H
            width = round(BAR_W * (_number(value) or 0) / scale)
            if value == SUPPRESSED:
                width = 16
                body.append(
                    f'<rect x="0" y="{by + 2}" width="{width}" height="{BAR_H - 4}" fill="none" '
                    f'stroke="{SERIES[s]}" stroke-dasharray="3 2"/>'
                )
            elif width:
                body.append(
                    f'<rect x="0" y="{by + 2}" width="{width}" height="{BAR_H - 4}" rx="2" fill="{SERIES[s]}"/>'
                )
            said = _said(value) + (unit if _number(value) is not None else "")
            body.append(f'<text x="{width + 6}" y="{by + BAR_H - 4}" fill="{TEXT}">{escape(said)}</text>')
        body.append(f'<line x1="0" x2="{WIDTH}" y1="{y + band - 4}" y2="{y + band - 4}" stroke="{LINE}"/>')
    if not rows:
        body.append(f'<text x="0" y="{top + 16}" fill="{MUTED}">Nothing recorded in this period.</text>')
    return _frame(table.title, WIDTH, top + max(len(rows), 1) * band + 4, body)


def _blend(share: float) -> str:
    low, high, t = (COLD, WARM, share * 2) if share < 0.5 else (WARM, HOT, share * 2 - 1)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high, strict=True))


def draw_heatmap(table: Table, cells: list[list[Cell]]) -> str:
    """Seven days by 24 hours; the colour grows from the panel's own to amber at the busiest hour."""
    cell, left, top = 26, 48, 22
    busiest = max((_number(v) or 0 for row in cells for v in row[1:]), default=0) or 1
    body = [
        '<defs><pattern id="few" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#1f2630"/><line x1="0" y1="0" x2="0" y2="6" stroke="{MUTED}" stroke-width="2"/></pattern></defs>'
    ]
    for hour in range(0, 24, 2):
        body.append(
            f'<text x="{left + hour * cell + cell / 2}" y="14" fill="{MUTED}" text-anchor="middle" font-size="11">{hour:02d}</text>'
        )
    for d, row in enumerate(cells):
        y = top + d * cell
        body.append(
            f'<text x="{left - 8}" y="{y + 17}" fill="{TEXT}" text-anchor="end">{escape(str(row[0])[:3])}</text>'
        )
        for h, value in enumerate(row[1:]):
            x = left + h * cell
            fill = "url(#few)" if value == SUPPRESSED else _blend((_number(value) or 0) / busiest)
            body.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="3" fill="{fill}">'
                f"<title>{escape(str(row[0]))} {h:02d}:00 {escape(_said(value))}</title></rect>"
            )
    legend_y = top + 7 * cell + 16
    for i in range(11):
        body.append(
            f'<rect x="{left + 200 + i * 14}" y="{legend_y - 10}" width="14" height="10" fill="{_blend(i / 10)}"/>'
        )
    body.append(f'<text x="{left + 192}" y="{legend_y}" fill="{MUTED}" font-size="11" text-anchor="end">none</text>')
    body.append(
        f'<text x="{left + 364}" y="{legend_y}" fill="{MUTED}" font-size="11">busiest hour ({_said(busiest)})</text>'
    )
    return _frame(table.title, left + 24 * cell + 4, legend_y + 8, body)


def draw_chart(table: Table, cells: list[list[Cell]]) -> str:
    if table.chart == "heatmap":
        return draw_heatmap(table, cells)
    if table.chart == "helped":
        # Only the answers to "how much did the call help", on one scale: the counts and shares
        # around them are in different units, and all of them are in the table.
        helped = [row for row in cells if row[0] == HELPED_HEADING]
        return draw_bars(
            replace(table, title="How much the call helped, as callers said", label_columns=1),
            [[row[1], *row[1:]] for row in helped],
            per_row=False,
        )
    return draw_bars(table, cells, per_row=table.key == "calls")
