"""The detectors of docs/contract.md §3: pure functions of (history, report, thresholds) → problems.

No I/O here. The Faust agents keep the history in a table and call `detect`. This file holds
the market, funding, transport and power detectors and `detect`; energy, halts and the
workforce are in production_detectors.py, problems a liaison or work group states in
stated_problems.py, the history in history.py."""

from statistics import fmean
from typing import Any

from liaison_common.events import EnterpriseReport
from services.rules.domain.problems import (
    CATEGORY_TYPES,
    INDICATORS_READ,
    Detector,
    EnterpriseFacts,
    Problem,
    Snapshot,
    evidence_of,
    grade,
    history_before,
    indicator_values,
    report_problem,
    worst,
)
from services.rules.domain.production_detectors import energy_overuse, production_halt, workforce_cut
from services.rules.domain.thresholds import Thresholds


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
            return report_problem(
                kind="stockpile",
                facts=facts,
                report=report,
                severity=grade(ind.inventory_t / limit - 1, t),
                summary=f"{facts.name}库存{ind.inventory_t:g}吨，是近{len(recent_sales)}期周均销量的{ratio:.1f}倍，产品积压。",
                evidence=evidence_of(
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
        return report_problem(
            kind="stockpile",
            facts=facts,
            report=report,
            severity=grade((minimum.value - current) / minimum.value, t),
            summary=f"{facts.name}产销率连续{running}期低于{minimum.value:.0%}（本期{current:.0%}），产品积压。",
            evidence=evidence_of(
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
    return (indicator_values(past, "sales_t") + current)[-window:]


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
    return report_problem(
        kind="funding_gap",
        facts=facts,
        report=report,
        severity=grade(gap / ind.working_capital_need * 2, t),
        summary=f"{facts.name}未来30天流动资金需求{ind.working_capital_need:g}万元，现金与可用授信合计"
        f"{(ind.cash_on_hand or 0) + (ind.credit_available or 0):g}万元，缺口{gap:g}万元。",
        evidence=evidence_of(
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
        return report_problem(
            kind="transport_backlog",
            facts=facts,
            report=report,
            severity=grade((minimum.value - ratio) / minimum.value, t),
            summary=f"{facts.name}铁路请车{ind.rail_requested_t:g}吨、实发{ind.rail_shipped_t:g}吨，兑现率{ratio:.0%}，运力不足。",
            evidence=evidence_of(
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
            return report_problem(
                kind="transport_backlog",
                facts=facts,
                report=report,
                severity=grade(excess, t),
                summary=f"{facts.name}待运{ind.awaiting_shipment_t:g}吨，超过本期铁路发运量{ind.rail_shipped_t:g}吨的"
                f"{maximum.value:g}倍，产品积压待运。",
                evidence=evidence_of(
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
    return report_problem(
        kind="transport_backlog",
        facts=facts,
        report=report,
        severity=grade(ind.awaiting_shipment_t / limit - 1, t),
        summary=f"{facts.name}待运{ind.awaiting_shipment_t:g}吨，占库存{ind.inventory_t:g}吨的"
        f"{ind.awaiting_shipment_t / (ind.inventory_t or 1):.0%}，超过{weeks.value:g}周销量，产品积压待运。",
        evidence=evidence_of(
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
                evidence_of(
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
                evidence_of(
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
    return report_problem(
        kind="power_shortage",
        facts=facts,
        report=report,
        severity=severity,
        summary=f"{facts.name}" + "，".join(f[1] for f in found) + "，电力保障不足。",
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
