"""The trend chart: an inline, accessible SVG built from `reports.context.Trend`.

Stage: report (output). No JavaScript and no external assets: the chart is markup in
the page, named by its `<title>` (`role="img"`; the `<desc>` is the sentence of the
figure's caption under it, so a screen reader says it once), and every series is told
apart by its dash pattern and a text label as well as its colour. The page also
carries the same numbers as a table, for screen readers and for print. It is drawn
twice, for a desktop and for a phone, and the stylesheet shows one (`trend_svg`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from reports.context import Trend, TrendPoint


@dataclass(frozen=True)
class _Frame:
    """The size of a chart (its viewBox) and the room around its plot, for its labels."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: tuple[int, ...]
    #: Each series' label in rows under the plot (its line drawn before it), not at its
    #: line's end: a phone has no room on the right for "Needs a look 100%".
    legend_below: bool = False


#: A desktop's chart, drawn about as wide as its viewBox (text at 12 and 13 px).
WIDE = _Frame(720, 260, 44, 150, 14, 34, (0, 25, 50, 75, 100))
#: A phone's: the wide one, scaled to a 390 px screen, had text of 6 px. This one is drawn
#: about as wide as its viewBox there (text at 12 px), with fewer ticks and its labels
#: under the plot.
NARROW = _Frame(340, 280, 44, 12, 14, 88, (0, 50, 100), legend_below=True)
#: (label, attribute, css class, dash pattern)
SERIES = (
    ("OK", "ok_pct", "ok", ""),
    ("Failing", "broken_pct", "broken", "8 5"),
    ("Needs a look", "attention_pct", "look", "2 4"),
)


def trend_svg(trend: Trend, *, chart_id: str = "trend") -> Markup:
    """The chart twice, one for a wide screen and one for a phone (the stylesheet shows
    one: `.trend-chart.narrow`). The phone's is hidden by its `style` too, for a mail
    reader that drops the page's stylesheet. A hidden one is not read by a screen
    reader either, so the chart is read once."""
    return Markup(
        _svg(trend, chart_id, WIDE, "wide")
        + _svg(trend, f"{chart_id}-narrow", NARROW, "narrow", shown=False)
    )


_HIDDEN = ' style="display:none"'


def _svg(trend: Trend, chart_id: str, frame: _Frame, size: str, *, shown: bool = True) -> str:
    points = [p for p in trend.points if p.checked]
    title = f"Link health over the last {trend.days} days"
    width, height = frame.width, frame.height
    left, top = frame.left, frame.top
    parts = [
        f'<svg class="trend-chart {size}" id="{chart_id}" role="img" '
        f'viewBox="0 0 {width} {height}"{"" if shown else _HIDDEN} '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(trend.description)}</desc>',
    ]
    plot_w = width - left - frame.right
    plot_h = height - top - frame.bottom
    for pct in frame.ticks:
        grid_y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" '
            f'y1="{grid_y:.1f}" y2="{grid_y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{grid_y + 4:.1f}" '
            f'text-anchor="end">{pct}%</text>'
        )
    if not points:
        parts.append(
            f'<text class="axis" x="{left + plot_w / 2}" y="{top + plot_h / 2}" '
            'text-anchor="middle">No run could check any link yet.</text></svg>'
        )
        return "".join(parts)
    moments = [_moment(p) for p in points]
    start, end = moments[0], moments[-1]
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + plot_w * (moment - start).total_seconds() / span

    def y(pct: float) -> float:
        return top + plot_h * (1 - pct / 100)

    ends: list[tuple[float, float, str, str, str]] = []
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
        ends.append((coords[-1][1] + 4, coords[-1][0], css, dash, end_text))
    # End labels never overlap: each one goes at least a line below the one above it.
    ends.sort()
    floor = float("-inf")
    base = top + plot_h + 20
    for row, (label_y, last_x, css, dash, text) in enumerate(ends):
        if frame.legend_below:
            row_y = base + 22 + 18 * row
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line class="series {css}" x1="{left}" x2="{left + 28}" '
                f'y1="{row_y - 4}" y2="{row_y - 4}"{dash_attr}/>'
                f'<text class="label {css}" x="{left + 36}" y="{row_y}">{escape(text)}</text>'
            )
            continue
        floor = max(label_y, floor + 15)
        parts.append(
            f'<text class="label {css}" x="{last_x + 8:.1f}" y="{floor:.1f}">{escape(text)}</text>'
        )
    parts.append(f'<text class="axis" x="{left}" y="{base}">{escape(points[0].at.date)}</text>')
    if len(points) > 1:
        parts.append(
            f'<text class="axis" x="{left + plot_w}" y="{base}" text-anchor="end">'
            f"{escape(points[-1].at.date)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _moment(point: TrendPoint) -> datetime:
    return datetime.fromisoformat(point.at.iso)
