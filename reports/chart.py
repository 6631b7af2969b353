"""The trend chart: an inline, accessible SVG built from `reports.context.Trend`.

Stage: report (output). No JavaScript and no external assets: the chart is markup in
the page, named by its `<title>` (`role="img"`; the `<desc>` is the sentence of the
figure's caption under it, so a screen reader says it once), and every series is told
apart by its dash pattern and a text label as well as its colour. The page also
carries the same numbers as a table, for screen readers and for print.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from markupsafe import Markup

from reports.context import Trend, TrendPoint

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 150, 14, 34
#: (label, attribute, css class, dash pattern)
SERIES = (
    ("OK", "ok_pct", "ok", ""),
    ("Failing", "broken_pct", "broken", "8 5"),
    ("Needs a look", "attention_pct", "look", "2 4"),
)


def trend_svg(trend: Trend, *, chart_id: str = "trend") -> Markup:
    points = [p for p in trend.points if p.checked]
    title = f"Link health over the last {trend.days} days"
    parts = [
        f'<svg class="trend-chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(trend.description)}</desc>',
    ]
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    for pct in (0, 25, 50, 75, 100):
        grid_y = _TOP + plot_h * (1 - pct / 100)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + plot_w}" '
            f'y1="{grid_y:.1f}" y2="{grid_y:.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{grid_y + 4:.1f}" '
            f'text-anchor="end">{pct}%</text>'
        )
    if not points:
        parts.append(
            f'<text class="axis" x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" '
            'text-anchor="middle">No run could check any link yet.</text></svg>'
        )
        return Markup("".join(parts))
    moments = [_moment(p) for p in points]
    start, end = moments[0], moments[-1]
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        if len(points) == 1:
            return _LEFT + plot_w / 2
        return _LEFT + plot_w * (moment - start).total_seconds() / span

    def y(pct: float) -> float:
        return _TOP + plot_h * (1 - pct / 100)

    ends: list[tuple[float, float, str, str]] = []
    for label, attr, css, dash in SERIES:
        coords = [(x(m), y(getattr(p, attr))) for p, m in zip(points, moments, strict=True)]
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline class="series {css}" points="{path}"{dash_attr}/>')
        for (cx, cy), p in zip(coords, points, strict=True):
            tip = f"Run {p.run_id}, {p.at.date}: {label} {getattr(p, attr):.0f}%"
            parts.append(
                f'<circle class="dot {css}" cx="{cx:.1f}" cy="{cy:.1f}" r="3">'
                f"<title>{escape(tip)}</title></circle>"
            )
        end_text = f"{label} {getattr(points[-1], attr):.0f}%"
        ends.append((coords[-1][1] + 4, coords[-1][0], css, end_text))
    # End labels never overlap: each one goes at least a line below the one above it.
    ends.sort()
    floor = float("-inf")
    for label_y, last_x, css, text in ends:
        floor = max(label_y, floor + 15)
        parts.append(
            f'<text class="label {css}" x="{last_x + 8:.1f}" y="{floor:.1f}">{escape(text)}</text>'
        )
    base = _TOP + plot_h + 20
    parts.append(f'<text class="axis" x="{_LEFT}" y="{base}">{escape(points[0].at.date)}</text>')
    if len(points) > 1:
        parts.append(
            f'<text class="axis" x="{_LEFT + plot_w}" y="{base}" text-anchor="end">'
            f"{escape(points[-1].at.date)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _moment(point: TrendPoint) -> datetime:
    return datetime.fromisoformat(point.at.iso)
