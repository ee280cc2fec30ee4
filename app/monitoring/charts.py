"""Server-side SVG line charts for the monitoring page (no JavaScript library, nothing from the internet)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


@dataclass
class Series:
    """One line: values by ISO date (None where the day has no validated forecast)."""

    label: str
    points: list  # [(iso_date, value or None)]
    colour: str
    dashed: bool = False


def time_chart_svg(chart_id: str, title: str, start: dt.date, end: dt.date, series: list[Series],
                   unit: str = "", threshold: float | None = None) -> Markup:
    """A line chart over the calendar days start..end, with an optional dashed threshold line."""
    values = [v for s in series for _, v in s.points if v is not None]
    if threshold is not None:
        values.append(threshold)
    if not values:
        return Markup(f'<p class="hint" id="{escape(chart_id)}">No validated forecasts in this period yet.</p>')
    y_max = max(values) * 1.1 or 1.0
    days = max((end - start).days, 1)

    def x(day: str) -> float:
        offset = (dt.date.fromisoformat(day) - start).days
        return LEFT + (WIDTH - LEFT - RIGHT) * offset / days

    def y(value: float) -> float:
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / y_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'id="{escape(chart_id)}" aria-label="{escape(title)}">',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>']
    for fraction in (0.0, 0.5, 1.0):
        value = y_max / 1.1 * fraction
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end">'
                     f'{value:,.2f}{escape(unit)}</text>')
    for day, anchor in ((start, "start"), (end, "end")):
        parts.append(f'<text x="{x(day.isoformat()):.1f}" y="{HEIGHT - BOTTOM + 18}" font-size="11" '
                     f'text-anchor="{anchor}">{escape(day.isoformat())}</text>')
    if threshold is not None:
        parts.append(f'<line class="threshold" x1="{LEFT}" y1="{y(threshold):.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y(threshold):.1f}" stroke="#d62728" stroke-dasharray="6,4">'
                     f'<title>threshold {threshold:g}{escape(unit)}</title></line>')
    for s in series:
        parts.extend(_line(s, x, y, unit))
    parts.extend(_legend(series, threshold, unit))
    parts.append("</svg>")
    return Markup("".join(parts))


def _line(s: Series, x, y, unit: str) -> list[str]:
    """Polyline through the days that have a value, with a dot and tooltip per point."""
    known = [(day, v) for day, v in s.points if v is not None]
    dash = ' stroke-dasharray="4,3"' if s.dashed else ""
    out = []
    if len(known) > 1:
        points = " ".join(f"{x(day):.1f},{y(v):.1f}" for day, v in known)
        out.append(f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>')
    for day, v in known:
        out.append(f'<circle cx="{x(day):.1f}" cy="{y(v):.1f}" r="3" fill="{s.colour}">'
                   f'<title>{escape(s.label)} {escape(day)}: {v:,.3f}{escape(unit)}</title></circle>')
    return out


def _legend(series: list[Series], threshold, unit: str) -> list[str]:
    entries = [(s.label, s.colour, s.dashed) for s in series]
    if threshold is not None:
        entries.append((f"threshold {threshold:g}{unit}", "#d62728", True))
    out, x0 = [], LEFT + 8
    for label, colour, dashed in entries:
        dash = ' stroke-dasharray="4,3"' if dashed else ""
        out.append(f'<line x1="{x0}" y1="{TOP + 6}" x2="{x0 + 18}" y2="{TOP + 6}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/><text x="{x0 + 22}" y="{TOP + 10}" font-size="11">{escape(label)}</text>')
        x0 += 34 + 7 * len(label)
    return out
