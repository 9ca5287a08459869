"""What the pages show, computed without I/O: labels, filters, the overview grid, trend charts.

The routes fetch alerts, reports and the organisation; everything here is a pure function of
them, unit tested directly.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from html import escape
from typing import Any

from pydantic import BaseModel, ValidationError

from liaison_common.events import SEVERITIES, severity_rank
from liaison_common.labels import ACTOR_LABELS, CHANNEL_LABELS, PROBLEM_TYPE_LABELS
from liaison_common.routing import PROBLEM_TYPES
from services.console import incentives

STATUSES = ("open", "acknowledged", "resolved")

TYPE_LABELS = PROBLEM_TYPE_LABELS
# The evidence's field names as an official reads them (power in 兆瓦时 = 千度, the seed's 度).
EVIDENCE_LABELS = {
    "inventory_t": "库存（吨）",
    "sales_t": "销量（吨）",
    "production_t": "产量（吨）",
    "mean_weekly_sales_t": "近期周均销量（吨）",
    "mean_production_t": "近期平均产量（吨）",
    "inventory_weeks_of_sales": "库存周数上限",
    "sales_to_production": "产销率",
    "sales_to_production_min": "产销率下限",
    "working_capital_need": "流动资金需求（万元）",
    "cash_on_hand": "现有资金（万元）",
    "credit_available": "可用授信（万元）",
    "gap": "资金缺口（万元）",
    "gap_min": "缺口下限（万元）",
    "rail_requested_t": "铁路请车（吨）",
    "rail_shipped_t": "铁路实发（吨）",
    "shipped_to_requested": "铁路兑现率",
    "shipped_to_requested_min": "兑现率下限",
    "awaiting_shipment_t": "待运量（吨）",
    "awaiting_to_shipped_max": "待运/发运倍数上限",
    "awaiting_weeks_of_sales_max": "待运量上限（周销量）",
    "awaiting_share_of_inventory_min": "待运占库存比例下限",
    "region_growth_pct": "地区加权增速（%）",
    "reporting_enterprises": "报送企业数",
    "indicator": "指标",
    "value": "填报值",
    "expected_min": "预期下限",
    "expected_max": "预期上限",
    "basis": "依据",
    "median": "近期中位数",
    "z_score": "修正Z分数",
    "power_supplied_mwh": "供电量（兆瓦时，千度）",
    "power_demand_mwh": "需电量（兆瓦时，千度）",
    "supplied_to_demand": "供需比",
    "supplied_to_demand_min": "供需比下限",
    "coal_stock_days": "电煤库存（天）",
    "coal_stock_days_min": "电煤库存下限（天）",
    "energy_kwh_per_t": "单位电耗（千瓦时/吨，度/吨）",
    "kwh_per_t_ceiling": "附件3改造目标（千瓦时/吨以下）",
    "dust_mg_m3": "粉尘排放浓度（毫克/立方米）",
    "dust_mg_m3_max": "粉尘目标或限值（毫克/立方米）",
    "main_product": "主要产品",
    "output_value_yoy_pct": "工业增加值同比增速（%）",
    "target_pct": "目标增速（%）",
    "region": "地区",
    "lines_halted": "停产生产线（条）",
    "lines_halted_max": "停产生产线上限",
    "production_to_mean_min": "产量/均值下限",
    "employees": "在岗职工（人）",
    "mean_employees": "近期平均职工（人）",
    "employees_to_mean_min": "职工/均值下限",
    "wage_arrears": "拖欠工资（万元）",
    "wage_arrears_max": "拖欠工资上限",
    "last_period_end": "最近报告期结束",
    "watermark": "事件时间",
    "days_after_period_end": "报告期结束后天数",
    "stated": "报告所述",
    "category": "类别",
    "incident_id": "事项编号",
    "occurred_at": "发生时间",
    "rail_freight_ytd_t": "全省铁路运量本年累计（吨）",
    "road_rail_ytd_t": "公铁联运、公铁分流本年累计（吨）",
    "purchased_power_mwh": "今冬明春外购电累计兑现（兆瓦时，千度）",
    "longyangxia_outflow_increase_m3_s": "龙羊峡出库流量按计划增加（立方米/秒）",
    "expected": "按时间进度应完成",
    "elapsed_share": "目标期已过比例",
    "target": "附件1目标",
    "pace_min": "进度下限",
    "window": "目标期",
}


def evidence_label(name: str) -> str:
    return EVIDENCE_LABELS.get(name, name)


SEVERITY_LABELS = {"low": "低", "medium": "中", "high": "高", "critical": "紧急"}
STATUS_LABELS = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}
ROLE_LABELS = {"primary": "主办", "cc": "抄送"}
SUBJECT_LABELS = {"group": "协调组", "work_group": "工作组", "admin": "管理员", "enterprise": "企业联络员"}


def type_label(problem_type: str) -> str:
    return TYPE_LABELS.get(problem_type, problem_type)


# ------------------------------------------------------------------ the inbox


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters; empty strings mean "any"."""

    type: str = ""
    enterprise_id: str = ""
    severity: str = ""
    status: str = ""

    def errors(self) -> list[str]:
        """Which filters name a value that does not exist (the page says so rather than guess)."""
        wrong = []
        if self.type and self.type not in PROBLEM_TYPES:
            wrong.append(f"类型 type={self.type}")
        if self.severity and self.severity not in SEVERITIES:
            wrong.append(f"级别 severity={self.severity}")
        if self.status and self.status not in STATUSES:
            wrong.append(f"状态 status={self.status}")
        return wrong

    def notify_params(self) -> dict[str, str]:
        """The filters notify applies itself; severity is applied here (notify has no such filter)."""
        params = {"type": self.type, "enterprise_id": self.enterprise_id, "status": self.status}
        return {key: value for key, value in params.items() if value}

    def keep(self, alert: dict[str, Any]) -> bool:
        return not self.severity or alert.get("severity") == self.severity


def inbox_rows(alerts: Iterable[dict[str, Any]], filters: InboxFilters) -> list[dict[str, Any]]:
    """The alerts to list, worst and newest first within each status, open ones on top."""
    kept = [a for a in alerts if filters.keep(a)]
    return sorted(
        kept,
        key=lambda a: (
            STATUSES.index(a.get("status", "open")) if a.get("status") in STATUSES else 0,
            -severity_rank(a.get("severity")),
            _negated(a.get("received_at") or ""),
        ),
    )


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def can_act(alert: dict[str, Any], subject_type: str, subject_id: str) -> bool:
    """Whether the signed-in group may acknowledge or resolve it (notify decides; this hides buttons)."""
    if alert.get("status") == "resolved":
        return False
    return subject_type == "admin" or subject_id in alert.get("group_ids", [])


# ------------------------------------------------------------------ the overview grid


@dataclass
class Cell:
    worst: str | None = None
    open_count: int = 0


@dataclass
class GridRow:
    enterprise_id: str
    name: str
    is_key: bool
    cells: dict[str, Cell]

    @property
    def worst(self) -> int:
        return max((severity_rank(c.worst) for c in self.cells.values()), default=-1)


def overview_grid(
    enterprises: Sequence[dict[str, Any]], counts: Iterable[dict[str, Any]]
) -> tuple[list[str], list[GridRow]]:
    """Enterprises by problem type, each cell holding how many alerts are not yet resolved and
    the worst severity among them. `counts` are notify's (GET /v1/alerts/counts): per
    enterprise, type and status, a count and a worst severity.

    Rows: every key enterprise, and every other enterprise with an unresolved alert; the worst
    first, then key enterprises, then by name. Columns: the problem types about enterprises.
    """
    columns = list(PROBLEM_TYPES)
    names = {e["id"]: e for e in enterprises}
    rows: dict[str, GridRow] = {}

    def row_for(enterprise_id: str) -> GridRow:
        if enterprise_id not in rows:
            entity = names.get(enterprise_id, {})
            rows[enterprise_id] = GridRow(
                enterprise_id,
                entity.get("name", enterprise_id),
                bool(entity.get("is_key")),
                {t: Cell() for t in columns},
            )
        return rows[enterprise_id]

    for entity in enterprises:
        if entity.get("is_key"):
            row_for(entity["id"])
    for count in counts:
        enterprise_id = count.get("enterprise_id")
        if not enterprise_id or count.get("status") == "resolved" or count.get("type") not in columns:
            continue
        cell = row_for(enterprise_id).cells[count["type"]]
        cell.open_count += int(count.get("count") or 0)
        if severity_rank(count.get("worst_severity")) > severity_rank(cell.worst):
            cell.worst = count["worst_severity"]
    ordered = sorted(rows.values(), key=lambda r: (-r.worst, not r.is_key, r.name))
    return columns, ordered


# ------------------------------------------------------------------ trend charts


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


def coordinating(alert: dict[str, Any], now: datetime | None = None) -> str | None:
    """The date until which the case is 协调中 (under coordination), while it lasts; else None."""
    until = alert.get("coordinating_until")
    if not until or alert.get("status") == "resolved":
        return None
    moment = now or datetime.now(UTC)
    return str(until)[:10] if datetime.fromisoformat(str(until)) > moment else None


EVENT_LABELS = {
    "received": "收到",
    "updated": "更新",
    "acknowledged": "确认收到",
    "resolved": "办结",
    "reopened": "重新出现",
    "escalated": "升级",
    "reminded": "提醒",
    "silenced": "静默",
    "commented": "意见",
    "coordinating": "协调中",
    "sent": "已送达",
    "archived": "归档",
    "corrected": "更正",
}


# How notify writes the details of its machine-written history lines (services/notify/merging.py);
# the console reads them back in Chinese, and shows any other text as it is.
_DETAIL_PATTERNS: dict[str, re.Pattern[str]] = {
    "resolved": re.compile(r"absent from two consecutive reports \((?P<ids>.*)\): resolved by data"),
    "reopened": re.compile(r"detected again in the period ending (?P<day>\S+)"),
    "corrected": re.compile(
        r"report (?P<report>\S+) corrects (?P<replaces>\S+) for the period ending (?P<day>\S+)"
    ),
    "escalated": re.compile(r"to (?P<group>\S+), level (?P<level>\d+)"),
    "reminded": re.compile(r"to (?P<group>\S+), level (?P<level>\d+)"),
    "coordinating": re.compile(r"协调中，至 (?P<until>[^：\s]+)(：(?P<comment>.*))?", re.DOTALL),
    "silenced": re.compile(r"(?P<group>[^:\s]+): (?P<reasons>.*)"),
}
_ACK_TIMEOUT = "acknowledged and not resolved in time (the group's acknowledgement timeout)"
# The fields of a case that an update names (notify's CASE_FIELDS), as an official reads them.
CASE_FIELD_LABELS = {
    "severity": "级别",
    "summary": "摘要",
    "evidence": "依据",
    "occurrences": "出现次数",
    "last_period_end": "最近一期",
    "source_ids": "来源报告",
    "measures": "可用措施",
    "routes": "分送",
    "group_ids": "分送协调组",
    "submitted_at": "报送时间",
    "region": "地区",
}


def chinese_date(value: Any) -> str:
    """'2025-03-05' (or a moment) → '2025年3月5日', whatever the browser's locale; '' stays ''."""
    text = str(value or "")
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return text
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_moment(value: Any) -> str:
    """An ISO moment → '2025年3月5日 18:04' in Beijing time (the province's clock)."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(BEIJING)
    return f"{chinese_date(local.date().isoformat())} {local:%H:%M}"


def parse_day(text: str) -> date:
    """A day typed into the console: 2012-01-20, 2012-1-20, 2012/1/20 or 2012年1月20日
    (ValueError otherwise). The console's date fields are text, so the browser's locale never
    changes how a date is shown or read."""
    found = re.fullmatch(r"\s*(\d{4})\s*[-/年]\s*(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*日?\s*", text or "")
    if found is None:
        raise ValueError(f"{text!r} is not a date such as 2012-01-20 or 2012年1月20日")
    return date(*(int(part) for part in found.groups()))


def actor_label(by: str, names: dict[str, str]) -> str:
    """Who acted, by name: a service, a channel, a group (`group:finance` or `finance`), the admin."""
    kind, _, subject = by.partition(":")
    if not subject:
        kind, subject = "", by
    if kind == "admin" or subject == "admin":
        return SUBJECT_LABELS["admin"]
    return ACTOR_LABELS.get(subject) or CHANNEL_LABELS.get(subject) or names.get(subject, subject)


def _group_list(ids: str, names: dict[str, str]) -> str:
    return "、".join(names.get(g.strip(), g.strip()) for g in ids.split(",") if g.strip())


def history_detail(event: str, by: str, detail: str, names: dict[str, str]) -> str:
    """One history line's detail in Chinese, where notify wrote it for machines."""
    pattern = _DETAIL_PATTERNS.get(event)
    found = pattern.fullmatch(detail) if pattern is not None else None
    if event == "received" and by == "rules" and detail:
        return "分送 " + _group_list(detail, names)
    if event == "updated" and by == "rules" and detail and "此前另有" not in detail:
        fields = [f.strip() for f in detail.split(",") if f.strip()]
        return "更新了" + "、".join(CASE_FIELD_LABELS.get(f, f) for f in fields)
    if event == "sent":
        return "通知已送出"  # the notification's id says nothing to an official
    if event == "reopened" and detail == _ACK_TIMEOUT:
        return "已确认但未按时办结（超过本组的确认时限），重新待处理"
    if found is None:
        return detail
    parts = found.groupdict()
    if event == "resolved":
        return f"连续两期报告未再出现（{parts['ids']}），按数据自动办结"
    if event == "reopened":
        return f"截至{chinese_date(parts['day'])}的报告期再次出现"
    if event == "corrected":
        period = chinese_date(parts["day"])
        return f"报告 {parts['report']} 更正了 {parts['replaces']}（截至{period}的报告期）"
    if event == "coordinating":  # the day chosen, as coordinating() reads it
        comment = f"：{parts['comment']}" if parts.get("comment") else ""
        return f"协调中，至{chinese_date(parts['until'])}{comment}"
    if event in ("escalated", "reminded"):
        return f"升级至{names.get(parts['group'], parts['group'])}（第{parts['level']}级）"
    return f"{names.get(parts['group'], parts['group'])}：{parts['reasons']}"  # silenced


def case_timeline(alert: dict[str, Any], names: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The case's history, oldest first, in words an official reads: when, what, who, details,
    every id by its Chinese name (issue 40.3). A long case keeps only its latest weekly updates;
    a line says how many came before."""
    names = names or {}
    lines = []
    for entry in sorted(alert.get("history") or [], key=lambda e: str(e.get("at") or "")):
        event, by = str(entry.get("event")), str(entry.get("by") or "")
        lines.append(
            {
                "at": chinese_moment(entry.get("at")),
                "event": EVENT_LABELS.get(event, event),
                "by": actor_label(by, names) if by else "",
                "detail": history_detail(event, by, str(entry.get("detail") or ""), names),
            }
        )
    earlier = int(alert.get("earlier_updates") or 0)
    if earlier:
        detail = f"此前另有 {earlier} 次数据更新，完整记录见 liaison.alert-events.v1"
        note = {"at": "", "event": EVENT_LABELS["updated"], "by": ACTOR_LABELS["rules"], "detail": detail}
        lines.insert(1 if lines else 0, note)  # after the case was received
    return lines


BEIJING = timezone(timedelta(hours=8))


def utc_now() -> datetime:
    return datetime.now(UTC)


def end_of_day_beijing(day: str) -> datetime:
    """'2012-01-20' → the end of that day in Beijing time, in UTC (ValueError if not a date, or
    at the end of the calendar: 9999-12-31 plus a day overflowed into a 500, issue 35.4)."""
    chosen = parse_day(day)
    if chosen.year >= 9999:
        raise ValueError(f"{day} is too far ahead")
    return (datetime.combine(chosen, time(), BEIJING) + timedelta(days=1)).astimezone(UTC)


def silence_active(silence: dict[str, Any], moment: datetime) -> bool:
    starts, ends = (datetime.fromisoformat(silence[k]) for k in ("starts_at", "ends_at"))
    return starts <= moment < ends


# ---------------------------------------------------------------- the 金融办's calculators


def _fields(inputs: type[BaseModel]) -> list[dict[str, str]]:
    fields = []
    for name, info in inputs.model_fields.items():
        kind = "institutions" if name == "institutions" else "number"
        fields.append({"name": name, "label": info.description or name, "kind": kind})
    return fields


def calculator_forms() -> list[dict[str, Any]]:
    """What the calculators page shows: each calculator, its clause and its fields."""
    return [
        {
            "name": c.name,
            "title": c.title,
            "fields": _fields(c.inputs),
            "doc": (c.compute.__doc__ or "").strip(),
        }
        for c in incentives.CALCULATORS.values()
    ]


def calculator_catalogue() -> list[dict[str, Any]]:
    """GET /v1/incentives: each calculator with the JSON Schema of its inputs."""
    return [
        {"name": c.name, "title": c.title, "inputs": c.inputs.model_json_schema()}
        for c in incentives.CALCULATORS.values()
    ]


def calculator_payload(name: str, form: dict[str, str]) -> dict[str, Any]:
    """The JSON a calculator takes, from the page's form (fields named `calculator.field`).
    Institutions are one per line: 名称, 本期万元[, 去年同期万元]. ValueError names what is wrong."""
    calculator = incentives.CALCULATORS[name]
    payload: dict[str, Any] = {}
    for spec in _fields(calculator.inputs):
        raw = form.get(f"{name}.{spec['name']}", "").strip()
        if not raw:
            continue
        if spec["kind"] == "institutions":
            institutions = []
            for number, line in enumerate(raw.splitlines(), start=1):
                cells = [c.strip() for c in line.replace("，", ",").split(",")]
                if not any(cells):
                    continue
                if len(cells) not in (2, 3):
                    raise ValueError(f"第{number}行：应为“名称, 本期万元[, 去年同期万元]”")
                try:
                    amounts = [float(c) for c in cells[1:]]
                except ValueError:
                    raise ValueError(f"第{number}行：金额应为数字") from None
                item: dict[str, Any] = {"name": cells[0], "amount_wan": amounts[0]}
                if len(amounts) == 2:
                    item["last_year_wan"] = amounts[1]
                institutions.append(item)
            payload[spec["name"]] = institutions
        else:
            try:
                payload[spec["name"]] = float(raw)
            except ValueError:
                raise ValueError(f"{spec['label']}：应为数字") from None
    return payload


def calculator_error(problem: ValueError) -> str:
    """One line a person can act on: the field's label and what is wrong with it."""
    if isinstance(problem, ValidationError):
        lines = []
        for error in problem.errors(include_url=False):
            lines.append(f"{'.'.join(str(part) for part in error['loc'])}：{error['msg']}")
        return "；".join(lines)
    return str(problem)


# ------------------------------------------------------- a liaison's data queries (docs/contract.md §7)


def query_rows(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """An enterprise's data queries, open ones first, newest period first: each with the figures
    questioned (indicator by name, value, expected range)."""
    rows = []
    for alert in alerts:
        findings = (alert.get("evidence") or {}).get("findings") or []
        rows.append(
            {
                "alert_id": alert["alert_id"],
                "period_end": alert.get("period_end") or "",
                "status": alert.get("status") or "open",
                "resolved_by": alert.get("resolved_by"),
                "summary": alert.get("summary") or "",
                "findings": [
                    {
                        "indicator": f.get("indicator"),
                        "label": evidence_label(str(f.get("indicator"))),
                        "value": f.get("value"),
                        "expected_min": f.get("expected_min"),
                        "expected_max": f.get("expected_max"),
                    }
                    for f in findings
                ],
            }
        )
    rows.sort(key=lambda r: r["period_end"], reverse=True)
    rows.sort(key=lambda r: r["status"] == "resolved")
    return rows


def correction_report(
    original: dict[str, Any], form: dict[str, str], *, enterprise_id: str, now: datetime
) -> dict[str, Any]:
    """The liaison's correction of a queried week as a report for ingest: the week's figures as
    first reported, with the ones typed in the form in their place (a correction replaces the
    whole report, so every figure goes again). ValueError names a field that is not a number."""
    indicators = dict(original.get("indicators") or {})
    for name, text in form.items():
        if not text.strip():
            continue
        try:
            value = float(text.replace(",", "").strip())
        except ValueError as error:
            raise ValueError(f"{evidence_label(name)}：“{text}”不是数字") from error
        indicators[name] = value
    stamp = now.astimezone(BEIJING)
    return {
        "report_id": f"{original['report_id'][:100]}-fix-{stamp:%Y%m%d%H%M%S}",
        "enterprise_id": enterprise_id,
        "period_start": original["period_start"],
        "period_end": original["period_end"],
        "submitted_at": stamp.isoformat(),
        "indicators": indicators,
    }


def rate_rows(rates: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """notify's reporting rates as table rows, the subjects by name, the lowest rate first."""
    rows = [
        {
            **subject,
            "name": names.get(subject["subject_id"], subject["subject_id"]),
            "kind": "企业" if subject["subject_type"] == "enterprise" else "工作组",
        }
        for subject in rates.get("subjects") or []
    ]
    return sorted(
        rows, key=lambda r: (r["reporting_rate"] if r["reporting_rate"] is not None else 2, r["name"])
    )
