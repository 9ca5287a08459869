"""Problems stated rather than computed from one report's figures: an incident (always a
major_incident), a work group's report of a problem, and the province's targets a work group's
report is judged against (docs/contract.md §7). Pure functions."""

from datetime import date
from typing import Any

from liaison_common.events import Incident, OpenProblem, WorkgroupReport
from services.rules.domain.problems import CATEGORY_TYPES, EnterpriseFacts, Problem, evidence_of, grade, worst
from services.rules.domain.thresholds import Thresholds


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
        evidence = evidence_of(
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
