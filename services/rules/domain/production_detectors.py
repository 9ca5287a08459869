"""Detectors of production itself (docs/contract.md §3): energy over the ceiling, halted lines,
layoffs and wage arrears. Pure functions, like detectors.py."""

from statistics import fmean
from typing import Any

from liaison_common.events import EnterpriseReport
from services.rules.domain.problems import (
    EnterpriseFacts,
    Problem,
    Snapshot,
    evidence_of,
    grade,
    indicator_values,
    report_problem,
    worst,
)
from services.rules.domain.thresholds import Thresholds


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
                evidence_of(
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
                evidence_of(
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
    return report_problem(
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
        return report_problem(
            kind="production_halt",
            facts=facts,
            report=report,
            severity="high" if ind.lines_halted < 3 else "critical",
            summary=f"{facts.name}期末停产生产线{ind.lines_halted:g}条。",
            evidence=evidence_of(
                values={"lines_halted": ind.lines_halted},
                threshold={"lines_halted_max": 0},
                rule="停产生产线 > 0",
                source="平台默认规则：有停产生产线即预警",
            ),
        )
    minimum = t.get("production_halt", "production_to_mean_min")
    window = t.get("production_halt", "window_reports").value
    previous = indicator_values(past, "production_t")[-window:]
    if ind.production_t is None or len(previous) < window or fmean(previous) <= 0:
        return None
    mean = fmean(previous)
    if ind.production_t >= minimum.value * mean:
        return None
    drop = 1 - ind.production_t / mean
    return report_problem(
        kind="production_halt",
        facts=facts,
        report=report,
        severity=grade(drop / (1 - minimum.value) - 1 + 0.1, t),
        summary=f"{facts.name}本期产量{ind.production_t:g}吨，仅为前{window}期均值{mean:.0f}吨的{ind.production_t / mean:.0%}，减产明显。",
        evidence=evidence_of(
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
    previous = indicator_values(past, "employees")[-window:]
    if ind.employees is not None and len(previous) >= window and fmean(previous) > 0:
        mean = fmean(previous)
        if ind.employees < minimum.value * mean:
            found.append(
                (
                    grade((1 - ind.employees / mean) * 2, t),
                    f"在岗职工{ind.employees:g}人，比前{window}期均值{mean:.0f}人减少{1 - ind.employees / mean:.0%}",
                    evidence_of(
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
                evidence_of(
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
    return report_problem(
        kind="workforce_cut",
        facts=facts,
        report=report,
        severity=worst(*(f[0] for f in found)),
        summary=f"{facts.name}" + "，".join(f[1] for f in found) + "。",
        evidence=evidence,
    )
