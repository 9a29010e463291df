"""A server-rendered SVG bar chart of SLA % met per ISO week (no script, no library)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

WIDTH = 640
HEIGHT = 220
LEFT = 40
BOTTOM = 30
TOP = 10
SERIES = (("first", "First response", "sla-bar-first"), ("resolution", "Resolution", "sla-bar-res"))


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One ISO week's % met (None: nothing decided that week)."""

    week: str
    first: float | None
    resolution: float | None


def met_chart(chart_id: str, title: str, points: Sequence[WeekPoint]) -> str:
    """Grouped bars (first response, resolution) per week on a 0..100 % axis."""
    desc = "; ".join(
        f"{p.week}: {_pct(p.first)} first responses, {_pct(p.resolution)} resolutions"
        for p in points
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" class="sla-chart">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc or "No weeks to show.")}</desc>',
        *_axis(),
        *_bars(points),
    ]
    return "".join(parts) + "</svg>"


def _pct(value: float | None) -> str:
    return "no decided" if value is None else f"{value:g} % met"


def _axis() -> list[str]:
    plot = HEIGHT - BOTTOM - TOP
    out = []
    for tick in (0, 50, 100):
        y = TOP + plot - plot * tick / 100
        out.append(f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:g}" y2="{y:g}" class="sla-grid"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:g}" text-anchor="end">{tick}%</text>')
    return out


def _bars(points: Sequence[WeekPoint]) -> list[str]:
    if not points:
        return []
    plot, slot = HEIGHT - BOTTOM - TOP, (WIDTH - LEFT) / len(points)
    bar = slot / 3
    out = []
    for i, point in enumerate(points):
        x0 = LEFT + i * slot
        for j, (field, label, css) in enumerate(SERIES):
            value: float | None = getattr(point, field)
            if value is not None:
                h = plot * value / 100
                x, y = x0 + bar * (j + 0.5), TOP + plot - h
                out.append(
                    f'<rect x="{x:g}" y="{y:g}" width="{bar:g}" height="{h:g}" class="{css}">'
                    f"<title>{escape(point.week)} {label}: {value:g} %</title></rect>"
                )
        cx = x0 + slot / 2
        out.append(
            f'<text x="{cx:g}" y="{HEIGHT - 10}" text-anchor="middle">{escape(point.week)}</text>'
        )
    return out


def weeks_param(raw: str | None, default: int = 8) -> int | None:
    """The `?weeks=` of the report page: 1..52, the default when absent, None when bad."""
    if raw is None or raw == "":
        return default
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 52 else None


def department_charts(report: Mapping[str, Any]) -> dict[str, Markup]:
    """One chart per department of routing's SLA report, keyed by department name."""
    charts: dict[str, Markup] = {}
    for i, dept in enumerate(report.get("departments", [])):
        points = [
            WeekPoint(w["week"], w["first_response"]["percent_met"], w["resolution"]["percent_met"])
            for w in dept["weeks"]
        ]
        title = f"{dept['department']}: % of SLA targets met per week"
        charts[dept["department"]] = Markup(met_chart(f"sla-chart-{i}", title, points))
    return charts
