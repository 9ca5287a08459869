"""The detectors of docs/contract.md §3: pure functions of (history, report, thresholds) → problems.

No I/O here. The Faust agents keep the history in a table and call `detect`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import fmean
from typing import Any

from liaison_common.events import (
    INDICATOR_NAMES,
    SEVERITIES,
    EnterpriseReport,
    Incident,
    OpenProblem,
    WorkgroupReport,
)
from services.rules.thresholds import Thresholds

# A problem a report states in `problems` raises an alert of the matching type.
CATEGORY_TYPES = {
    "market": "stockpile",
    "funding": "funding_gap",
    "transport": "transport_backlog",
    "power": "power_shortage",
    "energy": "energy_overuse",
    "workforce": "workforce_cut",
    "production": "production_halt",
    # No type of §3 matches these: they go to the comprehensive group as stated problems.
    "policy": "stated_problem",
    "other": "stated_problem",
}


@dataclass(frozen=True)
class Snapshot:
    """What the detectors keep of an earlier report."""

    report_id: str
    period_end: str
    indicators: dict[str, float]
    submitted_at: str = ""  # "" in what an earlier version kept: older than any correction
    # Values questioned as implausible (docs/contract.md §7), kept apart from `indicators` so that no
    # median or mean reads them; the next report at their level confirms them.
    questioned: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "report_id": self.report_id,
            "period_end": self.period_end,
            "indicators": self.indicators,
        }
        if self.submitted_at:
            data["submitted_at"] = self.submitted_at
        if self.questioned:
            data["questioned"] = self.questioned
        return data

    @classmethod
    def of(cls, data: dict[str, Any]) -> "Snapshot":
        return cls(
            data["report_id"],
            data["period_end"],
            dict(data["indicators"]),
            data.get("submitted_at", ""),
            dict(data.get("questioned") or {}),
        )


@dataclass(frozen=True)
class EnterpriseFacts:
    """What the registry says about the enterprise (names, product, region)."""

    id: str
    name: str
    main_product: str | None = None
    region: str | None = None


SUBJECT_FIELDS = {"enterprise": "enterprise_id", "work_group": "work_group_id", "region": "region"}


@dataclass
class Problem:
    type: str
    subject_id: str
    period_end: str
    severity: str
    summary: str
    evidence: dict[str, Any]
    source_ids: list[str]
    subject_kind: str = "enterprise"  # or "work_group", or "region" (growth against 附件1)
    stated: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        subject_field = SUBJECT_FIELDS[self.subject_kind]
        return {
            "type": self.type,
            subject_field: self.subject_id,
            "period_end": self.period_end,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence,
            "source_ids": self.source_ids,
        }


def grade(excess: float, t: Thresholds) -> str:
    """Severity from how far past its threshold a value is (excess as a fraction)."""
    low, medium, high = t.get("severity", "bands").value
    if excess < low:
        return "low"
    if excess < medium:
        return "medium"
    if excess < high:
        return "high"
    return "critical"


def worst(*severities: str) -> str:
    return max(severities, key=SEVERITIES.index)


def history_before(history: list[Snapshot], report: EnterpriseReport) -> list[Snapshot]:
    """Earlier reports only, oldest first, without this one (a redelivery sees the same past)."""
    end = report.period_end.isoformat()
    return sorted(
        (s for s in history if s.period_end < end and s.report_id != report.report_id),
        key=lambda s: s.period_end,
    )


def _values(snapshots: list[Snapshot], name: str) -> list[float]:
    return [s.indicators[name] for s in snapshots if s.indicators.get(name) is not None]


def _evidence(values: dict[str, Any], threshold: Any, rule: str, source: str) -> dict[str, Any]:
    return {"values": values, "threshold": threshold, "rule": rule, "source": source}


Detector = Callable[[EnterpriseFacts, EnterpriseReport, list[Snapshot], Thresholds], Problem | None]


def _problem(
    kind: str,
    facts: EnterpriseFacts,
    report: EnterpriseReport,
    severity: str,
    summary: str,
    evidence: dict[str, Any],
) -> Problem:
    return Problem(
        type=kind,
        subject_id=facts.id,
        period_end=report.period_end.isoformat(),
        severity=severity,
        summary=summary,
        evidence=evidence,
        source_ids=[report.report_id],
    )


def stockpile(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    if awaiting_rail(report, t):
        return None  # goods made and sold, waiting for rail: a transport case (docs/contract.md §7)
    weeks = t.get("stockpile", "inventory_weeks_of_sales")
    recent_sales = _recent_sales(report, past, t)
    if ind.inventory_t is not None and recent_sales and fmean(recent_sales) > 0:
        mean_sales = fmean(recent_sales)
        limit = weeks.value * mean_sales
        if ind.inventory_t >= limit:
            ratio = ind.inventory_t / mean_sales
            return _problem(
                kind="stockpile",
                facts=facts,
                report=report,
                severity=grade(ind.inventory_t / limit - 1, t),
                summary=f"{facts.name}库存{ind.inventory_t:g}吨，是近{len(recent_sales)}期周均销量的{ratio:.1f}倍，产品积压。",
                evidence=_evidence(
                    values={"inventory_t": ind.inventory_t, "mean_weekly_sales_t": round(mean_sales, 3)},
                    threshold={"inventory_weeks_of_sales": weeks.value},
                    rule="库存 ≥ 周数 × 近期周均销量",
                    source=weeks.source,
                ),
            )
    minimum = t.get("stockpile", "sales_to_production_min")
    running = t.get("stockpile", "consecutive_reports").value
    ratios = [
        _ratio(s.indicators.get("sales_t"), s.indicators.get("production_t")) for s in past[-(running - 1) :]
    ]
    ratios.append(_ratio(ind.sales_t, ind.production_t))
    if len(ratios) >= running and all(r is not None and r < minimum.value for r in ratios):
        current = ratios[-1]
        assert current is not None
        return _problem(
            kind="stockpile",
            facts=facts,
            report=report,
            severity=grade((minimum.value - current) / minimum.value, t),
            summary=f"{facts.name}产销率连续{running}期低于{minimum.value:.0%}（本期{current:.0%}），产品积压。",
            evidence=_evidence(
                values={"sales_to_production": [round(r, 4) for r in ratios if r is not None]},
                threshold={"sales_to_production_min": minimum.value},
                rule=f"产销率连续{running}期低于下限",
                source=minimum.source,
            ),
        )
    return None


def _recent_sales(report: EnterpriseReport, past: list[Snapshot], t: Thresholds) -> list[float]:
    """Weekly sales of the last reports (this one included), the base of "weeks of sales"."""
    window = t.get("stockpile", "sales_window_reports").value
    current = [report.indicators.sales_t] if report.indicators.sales_t is not None else []
    return (_values(past, "sales_t") + current)[-window:]


def awaiting_rail(report: EnterpriseReport, t: Thresholds) -> bool:
    """At least half the stock is awaiting shipment: the goods are sold and wait for rail
    (附件1 四 "全力抓好钾肥突击抢运工作…抢运积压产品"), so it is no stockpile (docs/contract.md §7)."""
    ind = report.indicators
    share = t.get("stockpile", "awaiting_share_of_inventory_max").value
    return (
        ind.awaiting_shipment_t is not None
        and ind.inventory_t is not None
        and ind.inventory_t > 0
        and ind.awaiting_shipment_t >= share * ind.inventory_t
    )


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def funding_gap(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    if ind.working_capital_need is None:
        return None
    gap = ind.working_capital_need - (ind.cash_on_hand or 0) - (ind.credit_available or 0)
    threshold = t.get("funding_gap", "gap_min")
    if gap <= threshold.value:
        return None
    return _problem(
        kind="funding_gap",
        facts=facts,
        report=report,
        severity=grade(gap / ind.working_capital_need * 2, t),
        summary=f"{facts.name}未来30天流动资金需求{ind.working_capital_need:g}万元，现金与可用授信合计"
        f"{(ind.cash_on_hand or 0) + (ind.credit_available or 0):g}万元，缺口{gap:g}万元。",
        evidence=_evidence(
            values={
                "working_capital_need": ind.working_capital_need,
                "cash_on_hand": ind.cash_on_hand,
                "credit_available": ind.credit_available,
                "gap": gap,
            },
            threshold={"gap_min": threshold.value},
            rule="资金需求 − 现有资金 − 可用授信 > 缺口下限",
            source=threshold.source,
        ),
    )


def transport_backlog(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    minimum = t.get("transport_backlog", "shipped_to_requested_min")
    ratio = _ratio(ind.rail_shipped_t, ind.rail_requested_t)
    if ratio is not None and ratio < minimum.value:
        return _problem(
            kind="transport_backlog",
            facts=facts,
            report=report,
            severity=grade((minimum.value - ratio) / minimum.value, t),
            summary=f"{facts.name}铁路请车{ind.rail_requested_t:g}吨、实发{ind.rail_shipped_t:g}吨，兑现率{ratio:.0%}，运力不足。",
            evidence=_evidence(
                values={
                    "rail_requested_t": ind.rail_requested_t,
                    "rail_shipped_t": ind.rail_shipped_t,
                    "shipped_to_requested": round(ratio, 4),
                },
                threshold={"shipped_to_requested_min": minimum.value},
                rule="铁路实发/请车低于下限",
                source=minimum.source,
            ),
        )
    maximum = t.get("transport_backlog", "awaiting_to_shipped_max")
    if ind.awaiting_shipment_t is not None and ind.rail_shipped_t is not None:
        limit = maximum.value * ind.rail_shipped_t
        if ind.awaiting_shipment_t > limit:
            excess = ind.awaiting_shipment_t / limit - 1 if limit > 0 else 1.0
            return _problem(
                kind="transport_backlog",
                facts=facts,
                report=report,
                severity=grade(excess, t),
                summary=f"{facts.name}待运{ind.awaiting_shipment_t:g}吨，超过本期铁路发运量{ind.rail_shipped_t:g}吨的"
                f"{maximum.value:g}倍，产品积压待运。",
                evidence=_evidence(
                    values={
                        "awaiting_shipment_t": ind.awaiting_shipment_t,
                        "rail_shipped_t": ind.rail_shipped_t,
                    },
                    threshold={"awaiting_to_shipped_max": maximum.value},
                    rule="待运量 > 倍数 × 本期铁路发运量",
                    source=maximum.source,
                ),
            )
    return _awaiting_beyond_sales(facts, report, past, t)


def _awaiting_beyond_sales(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    """Goods awaiting rail that are half the stock and more than two weeks of sales: a transport
    backlog even where the rail ratio alone is not (docs/contract.md §7)."""
    ind = report.indicators
    recent_sales = _recent_sales(report, past, t)
    if not awaiting_rail(report, t) or not recent_sales or fmean(recent_sales) <= 0:
        return None
    assert ind.awaiting_shipment_t is not None
    weeks = t.get("transport_backlog", "awaiting_weeks_of_sales_max")
    mean_sales = fmean(recent_sales)
    limit = weeks.value * mean_sales
    if ind.awaiting_shipment_t <= limit:
        return None
    return _problem(
        kind="transport_backlog",
        facts=facts,
        report=report,
        severity=grade(ind.awaiting_shipment_t / limit - 1, t),
        summary=f"{facts.name}待运{ind.awaiting_shipment_t:g}吨，占库存{ind.inventory_t:g}吨的"
        f"{ind.awaiting_shipment_t / (ind.inventory_t or 1):.0%}，超过{weeks.value:g}周销量，产品积压待运。",
        evidence=_evidence(
            values={
                "awaiting_shipment_t": ind.awaiting_shipment_t,
                "inventory_t": ind.inventory_t,
                "mean_weekly_sales_t": round(mean_sales, 3),
            },
            threshold={
                "awaiting_weeks_of_sales_max": weeks.value,
                "awaiting_share_of_inventory_min": t.get(
                    "stockpile", "awaiting_share_of_inventory_max"
                ).value,
            },
            rule="待运量 ≥ 库存的一半，且 > 周数 × 近期周均销量",
            source=weeks.source,
        ),
    )


def power_shortage(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    minimum = t.get("power_shortage", "supplied_to_demand_min")
    ratio = _ratio(ind.power_supplied_mwh, ind.power_demand_mwh)
    found: list[tuple[str, str, dict[str, Any]]] = []
    if ratio is not None and ratio < minimum.value:
        found.append(
            (
                grade((minimum.value - ratio) / minimum.value * 4, t),
                f"用电需求{ind.power_demand_mwh:g}兆瓦时、实际供电{ind.power_supplied_mwh:g}兆瓦时，保障率{ratio:.0%}",
                _evidence(
                    values={
                        "power_demand_mwh": ind.power_demand_mwh,
                        "power_supplied_mwh": ind.power_supplied_mwh,
                        "supplied_to_demand": round(ratio, 4),
                    },
                    threshold={"supplied_to_demand_min": minimum.value},
                    rule="供电量/需电量低于下限",
                    source=minimum.source,
                ),
            )
        )
    coal = t.get("power_shortage", "coal_stock_days_min")
    if ind.coal_stock_days is not None and ind.coal_stock_days < coal.value:
        found.append(
            (
                grade((coal.value - ind.coal_stock_days) / coal.value, t),
                f"电煤库存仅{ind.coal_stock_days:g}天（低于{coal.value:g}天）",
                _evidence(
                    values={"coal_stock_days": ind.coal_stock_days},
                    threshold={"coal_stock_days_min": coal.value},
                    rule="电煤库存天数低于下限",
                    source=coal.source,
                ),
            )
        )
    if not found:
        return None
    severity = worst(*(f[0] for f in found))
    evidence = found[0][2] if len(found) == 1 else {"findings": [f[2] for f in found]}
    return _problem(
        kind="power_shortage",
        facts=facts,
        report=report,
        severity=severity,
        summary=f"{facts.name}" + "，".join(f[1] for f in found) + "，电力保障不足。",
        evidence=evidence,
    )


def energy_overuse(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    found: list[tuple[str, str, dict[str, Any]]] = []
    ceiling = t.maybe("energy_overuse", "kwh_per_t_ceiling", facts.main_product or "")
    if ceiling is not None and ind.energy_kwh_per_t is not None and ind.energy_kwh_per_t > ceiling.value:
        found.append(
            (
                grade(ind.energy_kwh_per_t / ceiling.value - 1, t),
                f"{facts.main_product}单位电耗{ind.energy_kwh_per_t:g}千瓦时/吨，高于附件3改造目标（{ceiling.value:g}千瓦时/吨以下）",
                _evidence(
                    values={"energy_kwh_per_t": ind.energy_kwh_per_t, "main_product": facts.main_product},
                    threshold={"kwh_per_t_ceiling": ceiling.value},
                    rule="单位电耗高于该产品的附件3改造目标",
                    source=ceiling.source,
                ),
            )
        )
    # 附件3 gives a dust target for 硅铁、铬铁、镍铬 (100) and 碳化硅 (200); docs/contract.md §3 applies
    # the 100 to every other product as a default, which the summary says is not the seed's.
    target = t.maybe("energy_overuse", "dust_mg_m3_max", facts.main_product or "")
    dust = target or t.get("energy_overuse", "dust_mg_m3_max", "default")
    if ind.dust_mg_m3 is not None and ind.dust_mg_m3 > dust.value:
        named = "附件3改造目标" if target is not None else "默认限值"
        found.append(
            (
                grade(ind.dust_mg_m3 / dust.value - 1, t),
                f"{facts.main_product or facts.name}粉尘排放浓度{ind.dust_mg_m3:g}毫克/立方米，高于{named}（{dust.value:g}毫克/立方米以下）",
                _evidence(
                    values={"dust_mg_m3": ind.dust_mg_m3},
                    threshold={"dust_mg_m3_max": dust.value},
                    rule="粉尘排放浓度高于改造目标或默认限值",
                    source=dust.source,
                ),
            )
        )
    if not found:
        return None
    evidence = found[0][2] if len(found) == 1 else {"findings": [f[2] for f in found]}
    return _problem(
        kind="energy_overuse",
        facts=facts,
        report=report,
        severity=worst(*(f[0] for f in found)),
        summary=f"{facts.name}" + "；".join(f[1] for f in found) + "。",
        evidence=evidence,
    )


def production_halt(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    if ind.lines_halted is not None and ind.lines_halted > 0:
        return _problem(
            kind="production_halt",
            facts=facts,
            report=report,
            severity="high" if ind.lines_halted < 3 else "critical",
            summary=f"{facts.name}期末停产生产线{ind.lines_halted:g}条。",
            evidence=_evidence(
                values={"lines_halted": ind.lines_halted},
                threshold={"lines_halted_max": 0},
                rule="停产生产线 > 0",
                source="平台默认规则：有停产生产线即预警",
            ),
        )
    minimum = t.get("production_halt", "production_to_mean_min")
    window = t.get("production_halt", "window_reports").value
    previous = _values(past, "production_t")[-window:]
    if ind.production_t is None or len(previous) < window or fmean(previous) <= 0:
        return None
    mean = fmean(previous)
    if ind.production_t >= minimum.value * mean:
        return None
    drop = 1 - ind.production_t / mean
    return _problem(
        kind="production_halt",
        facts=facts,
        report=report,
        severity=grade(drop / (1 - minimum.value) - 1 + 0.1, t),
        summary=f"{facts.name}本期产量{ind.production_t:g}吨，仅为前{window}期均值{mean:.0f}吨的{ind.production_t / mean:.0%}，减产明显。",
        evidence=_evidence(
            values={"production_t": ind.production_t, "mean_production_t": round(mean, 3)},
            threshold={"production_to_mean_min": minimum.value},
            rule="产量低于近期均值的下限比例",
            source=minimum.source,
        ),
    )


def workforce_cut(
    facts: EnterpriseFacts, report: EnterpriseReport, past: list[Snapshot], t: Thresholds
) -> Problem | None:
    ind = report.indicators
    found: list[tuple[str, str, dict[str, Any]]] = []
    minimum = t.get("workforce_cut", "employees_to_mean_min")
    window = t.get("workforce_cut", "window_reports").value
    previous = _values(past, "employees")[-window:]
    if ind.employees is not None and len(previous) >= window and fmean(previous) > 0:
        mean = fmean(previous)
        if ind.employees < minimum.value * mean:
            found.append(
                (
                    grade((1 - ind.employees / mean) * 2, t),
                    f"在岗职工{ind.employees:g}人，比前{window}期均值{mean:.0f}人减少{1 - ind.employees / mean:.0%}",
                    _evidence(
                        values={"employees": ind.employees, "mean_employees": round(mean, 3)},
                        threshold={"employees_to_mean_min": minimum.value},
                        rule="在岗职工低于近期均值的下限比例",
                        source=minimum.source,
                    ),
                )
            )
    if ind.wage_arrears is not None and ind.wage_arrears > 0:
        found.append(
            (
                "high",
                f"拖欠工资{ind.wage_arrears:g}万元",
                _evidence(
                    values={"wage_arrears": ind.wage_arrears},
                    threshold={"wage_arrears_max": 0},
                    rule="拖欠工资 > 0",
                    source="平台默认规则：有拖欠工资即预警",
                ),
            )
        )
    if not found:
        return None
    evidence = found[0][2] if len(found) == 1 else {"findings": [f[2] for f in found]}
    return _problem(
        kind="workforce_cut",
        facts=facts,
        report=report,
        severity=worst(*(f[0] for f in found)),
        summary=f"{facts.name}" + "，".join(f[1] for f in found) + "。",
        evidence=evidence,
    )


DETECTORS: tuple[Detector, ...] = (
    stockpile,
    funding_gap,
    transport_backlog,
    power_shortage,
    energy_overuse,
    # growth_shortfall judges a region as a whole (regional.py, docs/contract.md §7), never one
    # enterprise alone: it is not among an enterprise report's detectors.
    production_halt,
    workforce_cut,
)


def detect(
    facts: EnterpriseFacts, report: EnterpriseReport, history: list[Snapshot], t: Thresholds
) -> list[Problem]:
    """Every problem the report shows, the ones it states included, one per type."""
    past = history_before(history, report)
    problems = {p.type: p for p in (d(facts, report, past, t) for d in DETECTORS) if p is not None}
    for stated in report.problems:
        kind = CATEGORY_TYPES[stated.category]
        if kind in problems:
            problems[kind].stated.append(stated.text)
            problems[kind].evidence = {**problems[kind].evidence, "stated": problems[kind].stated}
        else:
            problems[kind] = Problem(
                type=kind,
                subject_id=facts.id,
                period_end=report.period_end.isoformat(),
                severity="low",
                summary=f"{facts.name}报告：{stated.text}",
                evidence={
                    "stated": [stated.text],
                    "category": stated.category,
                    "rule": "企业报告自述的问题",
                    "source": "平台规则：报告所述问题至少按低级预警",
                },
                source_ids=[report.report_id],
                stated=[stated.text],
            )
    return [problems[kind] for kind in sorted(problems)]


def data_query_problem(
    facts: EnterpriseFacts, report: EnterpriseReport, findings: list[dict[str, Any]]
) -> Problem:
    """A report's implausible figures, questioned for the statistics work group (docs/contract.md §7)."""
    said = []
    for f in findings:
        low, high = f.get("expected_min"), f.get("expected_max")
        expected = f"{'' if low is None else f'{low:g}'}～{'' if high is None else f'{high:g}'}"
        said.append(f"{f['indicator']}填报{f['value']:g}，超出预期范围{expected}")
    period = report.period_end.isoformat()
    return Problem(
        type="data_query",
        subject_id=facts.id,
        period_end=period,
        severity="low",
        summary=f"{facts.name}截至{period}的报告数值异常，请核实或更正：" + "；".join(said) + "。",
        evidence={
            "findings": findings,
            "rule": "高于近8期中位数10倍、低于其1/10，或修正Z分数超过5（管理员设定的范围优先）",
            "source": "附件2 统计工作组“指导和帮助工业企业提高科学统计水平”；DHIS2 离群值检查",
        },
        source_ids=[report.report_id],
    )


def without_questioned(problems: list[Problem], questioned: set[str]) -> list[Problem]:
    """No detector that reads a questioned indicator fires on the report; a problem the report
    states in words (no figures of its own) stays."""
    if not questioned:
        return problems
    return [
        p
        for p in problems
        if (p.stated and "values" not in p.evidence)
        or not questioned.intersection(INDICATORS_READ.get(p.type, ()))
    ]


def incident_problem(facts: EnterpriseFacts, incident: Incident) -> Problem:
    """Every incident is a major_incident at once; the incident's own severity decides how severe."""
    labels = {
        "safety": "安全",
        "environment": "环境",
        "supply": "供应",
        "production": "生产",
        "other": "其他",
    }
    return Problem(
        type="major_incident",
        subject_id=facts.id,
        period_end=incident.occurred_at.date().isoformat(),
        severity="critical" if incident.severity == "critical" else "high",
        summary=f"{facts.name}发生{labels[incident.category]}类重大事项：{incident.summary}",
        evidence={
            "incident_id": incident.incident_id,
            "category": incident.category,
            "severity": incident.severity,
            "occurred_at": incident.occurred_at.isoformat(),
            "rule": "重大事项一律即时预警",
            "source": "附件1 八：重大事项、突发事件实行限时报送制度",
        },
        source_ids=[incident.incident_id],
    )


def workgroup_problem(report: WorkgroupReport, stated: OpenProblem, facts: EnterpriseFacts | None) -> Problem:
    """A problem a work group's report states about an enterprise: low at first, in the report's period."""
    name = facts.name if facts else stated.enterprise_id
    return Problem(
        type=CATEGORY_TYPES[stated.category],
        subject_id=stated.enterprise_id,
        period_end=report.period_end.isoformat(),
        severity="low",
        summary=f"{name}：{stated.text}（{report.work_group_id}报告）",
        evidence={
            "stated": [stated.text],
            "category": stated.category,
            "reported_by": report.work_group_id,
            "rule": "工作组报告所述的问题",
            "source": "平台规则：报告所述问题至少按低级预警",
        },
        source_ids=[report.report_id],
    )


# The province-wide figures of 附件1 that work groups report (WorkgroupIndicators), the problem
# type a shortfall is, and how to say it: name, unit, and the divisor into that unit.
PROVINCE_TARGETS: tuple[tuple[str, str, str, str, float, bool], ...] = (
    # indicator, problem type, name, unit, divisor, cumulative (judged against the pace)
    ("rail_freight_ytd_t", "transport_backlog", "全省铁路运量本年累计", "万吨", 10_000, True),
    ("road_rail_ytd_t", "transport_backlog", "公铁联运、公铁分流本年累计", "万吨", 10_000, True),
    ("purchased_power_mwh", "power_shortage", "今冬明春外购电合同累计兑现", "亿千瓦时", 100_000, True),
    (
        "longyangxia_outflow_increase_m3_s",
        "power_shortage",
        "龙羊峡水库出库流量按计划增加",
        "立方米/秒",
        1,
        False,
    ),
)


def _elapsed(day: date, window: list[str]) -> float | None:
    """The share of the target's window that has passed by the end of `day` (None outside it)."""
    start, end = (date.fromisoformat(d) for d in window)
    if not start <= day <= end:
        return None
    return ((day - start).days + 1) / ((end - start).days + 1)


def province_targets(report: WorkgroupReport, t: Thresholds) -> tuple[list[Problem], set[str]]:
    """A work group's province-wide figures against 附件1's targets: the problems (one per type,
    every shortfall of that type in it) and the types judged at all (a type whose figures the
    report does not carry, or whose target's window is over, neither opens nor resolves a case).

    A cumulative figure is behind when it is under pace_min of the target times the share of the
    window elapsed; a level (the 龙羊峡 outflow) when it is under its target."""
    pace_min = t.get("province_targets", "pace_min")
    findings: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    judged: set[str] = set()
    for name, kind, label, unit, divisor, cumulative in PROVINCE_TARGETS:
        value = getattr(report.indicators, name)
        window = t.maybe("province_targets", name, "window")
        target = t.maybe("province_targets", name, "target")
        if value is None or window is None or target is None:
            continue
        elapsed = _elapsed(report.period_end, window.value)
        if elapsed is None:
            continue
        judged.add(kind)
        expected = target.value * elapsed if cumulative else target.value
        floor = pace_min.value * expected if cumulative else expected
        if value >= floor or expected <= 0:
            continue
        shown = [f"{v / divisor:,.1f}{unit}" for v in (value, expected, target.value)]
        if cumulative:
            text = f"{label}{shown[0]}，按时间进度应达{shown[1]}（目标{shown[2]}），仅完成进度的{value / expected:.0%}"
        else:
            text = f"{label}{shown[0]}，低于目标{shown[2]}"
        evidence = _evidence(
            values={name: value, "expected": round(expected, 3), "elapsed_share": round(elapsed, 4)},
            threshold={
                "target": target.value,
                "pace_min": pace_min.value if cumulative else 1,
                "window": window.value,
            },
            rule="累计完成量落后于按时间进度应完成量" if cumulative else "低于附件1目标",
            source=target.source,
        )
        severity = grade(1 - value / expected, t)
        findings.setdefault(kind, []).append((severity, text, evidence))
    problems = []
    for kind, found in findings.items():
        evidence = found[0][2] if len(found) == 1 else {"findings": [f[2] for f in found]}
        problems.append(
            Problem(
                type=kind,
                subject_id=report.work_group_id,
                period_end=report.period_end.isoformat(),
                severity=worst(*(f[0] for f in found)),
                summary="；".join(f[1] for f in found) + f"（{report.work_group_id}报告）。",
                evidence=evidence,
                source_ids=[report.report_id],
                subject_kind="work_group",
            )
        )
    return problems, judged


# The indicators each detector's condition reads (docs/contract.md §7, "resolved by data means the
# data says so"): a report that carries none of a type's indicators says nothing of its case,
# neither continuing nor resolving it.
INDICATORS_READ: dict[str, tuple[str, ...]] = {
    "stockpile": ("inventory_t", "sales_t", "production_t"),
    "funding_gap": ("working_capital_need",),
    "transport_backlog": ("rail_requested_t", "rail_shipped_t", "awaiting_shipment_t"),
    "power_shortage": ("power_demand_mwh", "power_supplied_mwh", "coal_stock_days"),
    "energy_overuse": ("energy_kwh_per_t", "dust_mg_m3"),
    "growth_shortfall": ("output_value_yoy_pct",),
    "production_halt": ("lines_halted", "production_t"),
    "workforce_cut": ("employees", "wage_arrears"),
}


def judged_types(report: EnterpriseReport) -> set[str]:
    """The problem types whose condition this report lets the detectors judge: those whose
    indicators it carries, and every type a stated problem can be (a report states its
    problems or does not)."""
    carried = {name for name, value in report.indicators if value is not None}
    judged = {kind for kind, names in INDICATORS_READ.items() if carried.intersection(names)}
    return judged | {"stated_problem"}


# What the history keeps of earlier reports: every indicator, since each is checked against its
# own history before detection (docs/contract.md §7); the detectors read sales, production and
# employees of it.
HISTORY_INDICATORS = INDICATOR_NAMES


def snapshot(report: EnterpriseReport, questioned: dict[str, float] | None = None) -> Snapshot:
    values = report.indicators
    questioned = questioned or {}
    indicators = {
        k: v for k in HISTORY_INDICATORS if (v := getattr(values, k)) is not None and k not in questioned
    }
    return Snapshot(
        report.report_id,
        report.period_end.isoformat(),
        indicators,
        report.submitted_at.isoformat(),
        questioned,
    )


def _instant(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def period_holder(history: list[Snapshot], report: EnterpriseReport) -> Snapshot | None:
    """Another report of the same period that the history holds (this one is then a correction
    of it, or a replaced report delivered again: see `is_replaced`)."""
    end = report.period_end.isoformat()
    return next((s for s in history if s.period_end == end and s.report_id != report.report_id), None)


def is_replaced(holder: Snapshot, report: EnterpriseReport) -> bool:
    """The report was submitted before the one that holds its period: it was corrected already
    (a redelivery of the typo after its correction changes nothing)."""
    held = _instant(holder.submitted_at)
    return held is not None and report.submitted_at < held


def workgroup_period_holder(held: list[dict[str, str]], report: WorkgroupReport) -> dict[str, str] | None:
    """Another report of the work group for the same period (this one corrects it, or was
    corrected by it: `workgroup_report_replaced`). `held`: the group's reports, as remembered."""
    end = report.period_end.isoformat()
    return next((h for h in held if h["period_end"] == end and h["report_id"] != report.report_id), None)


def workgroup_report_replaced(holder: dict[str, str], report: WorkgroupReport) -> bool:
    held = _instant(holder.get("submitted_at", ""))
    return held is not None and report.submitted_at < held


def remember_workgroup_report(
    held: list[dict[str, str]], report: WorkgroupReport, keep: int
) -> list[dict[str, str]]:
    """The work group's reports with this one holding its period (one per period), newest `keep`."""
    end = report.period_end.isoformat()
    kept = [h for h in held if h["period_end"] != end]
    kept.append(
        {"report_id": report.report_id, "period_end": end, "submitted_at": report.submitted_at.isoformat()}
    )
    return sorted(kept, key=lambda h: h["period_end"])[-keep:]


def remember(
    history: list[Snapshot], report: EnterpriseReport, keep: int, questioned: dict[str, float] | None = None
) -> list[Snapshot]:
    """The history with this report in it (replacing a redelivery, or the report it corrects:
    one per period), newest `keep` by period."""
    end = report.period_end.isoformat()
    kept = [s for s in history if s.report_id != report.report_id and s.period_end != end]
    kept.append(snapshot(report, questioned))
    return sorted(kept, key=lambda s: (s.period_end, s.report_id))[-keep:]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
