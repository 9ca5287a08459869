"""An enterprise's trend charts and its alerts on a time axis, as SVG, computed without I/O."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from liaison_common.alert_contract import severity_rank
from services.console.views import type_label


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[date, float]]
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    series: list[Series]

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def _series(points: Sequence[dict[str, Any]], label: str, colour: str, value_of: Any) -> Series:
    values = []
    for point in points:
        value = value_of(point["indicators"])
        if value is not None:
            values.append((date.fromisoformat(point["period_end"]), float(value)))
    return Series(label, values, colour)


def _indicator(name: str) -> Any:
    return lambda indicators: indicators.get(name)


def _funding_gap(indicators: dict[str, Any]) -> float | None:
    need = indicators.get("working_capital_need")
    if need is None:
        return None
    return need - (indicators.get("cash_on_hand") or 0) - (indicators.get("credit_available") or 0)


def trend_charts(points: Sequence[dict[str, Any]], *, energy_ceiling: float | None) -> list[Chart]:
    """The five charts of an enterprise page, from its reports ordered by period."""
    points = sorted(points, key=lambda p: p["period_end"])
    energy = _series(points, "单位电耗", "#b22222", _indicator("energy_kwh_per_t"))
    energy_series = [energy]
    if energy_ceiling is not None and energy.points:
        ceiling = [(day, energy_ceiling) for day, _ in energy.points]
        energy_series.append(Series("附件3限值", ceiling, "#555555", dashed=True))
    return [
        Chart(
            "inventory",
            "库存与销量",
            "吨",
            [
                _series(points, "库存", "#c0392b", _indicator("inventory_t")),
                _series(points, "销量", "#2471a3", _indicator("sales_t")),
            ],
        ),
        Chart(
            "funding",
            "资金缺口（未来30天需求 − 现金 − 可用授信）",
            "万元",
            [_series(points, "资金缺口", "#8e44ad", _funding_gap)],
        ),
        Chart(
            "rail",
            "铁路运输：请车与装车",
            "吨",
            [
                _series(points, "请车", "#7f8c8d", _indicator("rail_requested_t")),
                _series(points, "实际装车", "#27ae60", _indicator("rail_shipped_t")),
            ],
        ),
        Chart(
            "power",
            "电力：需求与供应",
            "兆瓦时",
            [
                _series(points, "需求", "#7f8c8d", _indicator("power_demand_mwh")),
                _series(points, "供应", "#d68910", _indicator("power_supplied_mwh")),
            ],
        ),
        Chart("energy", "单位电耗与限值", "千瓦时/吨", energy_series),
    ]


@dataclass(frozen=True)
class TimeAxis:
    """One time axis shared by every chart and the alert timeline of a page."""

    start: date
    end: date

    @classmethod
    def spanning(cls, days: Iterable[date]) -> "TimeAxis | None":
        days = sorted(days)
        if not days:
            return None
        return cls(days[0], days[-1])

    def fraction(self, day: date) -> float:
        span = (self.end - self.start).days
        return 0.5 if span == 0 else (day - self.start).days / span


WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 200, 64, 16, 12, 28


def _x(axis: TimeAxis, day: date) -> float:
    return LEFT + axis.fraction(day) * (WIDTH - LEFT - RIGHT)


def chart_svg(chart: Chart, axis: TimeAxis) -> str:
    """An inline SVG line chart on the page's shared time axis (no script needed to read it)."""
    values = [v for s in chart.series for _, v in s.points]
    low, high = min([0.0, *values]), max([0.0, *values])
    if high == low:
        high = low + 1

    def y(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(chart.title)}" data-chart="{chart.key}">',
        f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{y(high):.1f}" class="tick" text-anchor="end">{high:,.0f}</text>',
        f'<text x="{LEFT - 6}" y="{y(low):.1f}" class="tick" text-anchor="end">{low:,.0f}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}" class="tick">{axis.start.isoformat()}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" class="tick" text-anchor="end">'
        f"{axis.end.isoformat()}</text>",
    ]
    for series in chart.series:
        if not series.points:
            continue
        path = " ".join(f"{_x(axis, day):.1f},{y(value):.1f}" for day, value in series.points)
        dash = ' stroke-dasharray="6 4"' if series.dashed else ""
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{series.colour}" stroke-width="2"{dash}>'
            f"<title>{escape(series.label)}</title></polyline>"
        )
        for day, value in series.points if not series.dashed else []:
            parts.append(
                f'<circle cx="{_x(axis, day):.1f}" cy="{y(value):.1f}" r="3" fill="{series.colour}">'
                f"<title>{escape(series.label)} {day.isoformat()}: {value:,.1f}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def timeline_marks(alerts: Iterable[dict[str, Any]], axis: TimeAxis) -> list[dict[str, Any]]:
    """Alerts placed on the charts' time axis by the period they are about, oldest first."""
    marks = []
    for alert in alerts:
        period_end = alert.get("period_end")
        if not period_end:
            continue
        day = date.fromisoformat(period_end[:10])
        marks.append({"alert": alert, "x": _x(axis, min(max(day, axis.start), axis.end)), "day": day})
    return sorted(marks, key=lambda m: (m["day"], -severity_rank(m["alert"].get("severity"))))


SEVERITY_COLOURS = {"low": "#2e86c1", "medium": "#f1c40f", "high": "#e67e22", "critical": "#c0392b"}


def timeline_svg(marks: Sequence[dict[str, Any]], axis: TimeAxis) -> str:
    """The alert timeline as a strip with the charts' geometry, so a dot sits above its week."""
    height = 40
    parts = [
        f'<svg class="chart timeline-strip" viewBox="0 0 {WIDTH} {height}" role="img" '
        'aria-label="预警时间线">',
        f'<line x1="{LEFT}" y1="{height - 8}" x2="{WIDTH - RIGHT}" y2="{height - 8}" class="axis"/>',
    ]
    stacked: dict[date, int] = {}
    for mark in marks:
        alert = mark["alert"]
        level = stacked.get(mark["day"], 0)
        stacked[mark["day"]] = level + 1
        colour = SEVERITY_COLOURS.get(alert.get("severity", ""), "#7f8c8d")
        label = f"{mark['day'].isoformat()} {type_label(alert.get('type', ''))}：{alert.get('summary', '')}"
        parts.append(
            f'<circle class="mark" data-alert-id="{escape(alert.get("alert_id", ""))}" '
            f'cx="{mark["x"]:.1f}" cy="{height - 14 - 9 * min(level, 3)}" r="4" fill="{colour}">'
            f"<title>{escape(label)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
