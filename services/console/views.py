"""What the pages show, computed without I/O: labels, the inbox's filters and rows, the overview
grid, a liaison's data queries and the reporting rates. Trend charts are in charts.py, a case's
timeline and dates in timeline.py, the calculators' forms in calculator_forms.py.

The routes fetch alerts, reports and the organisation; everything here is a pure function of
them, unit tested directly.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from liaison_common.alert_contract import SEVERITIES, severity_rank
from liaison_common.labels import PROBLEM_TYPE_LABELS
from liaison_common.routing import PROBLEM_TYPES

STATUSES = ("open", "acknowledged", "resolved")
BEIJING = timezone(timedelta(hours=8))  # the pages show Beijing time

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
