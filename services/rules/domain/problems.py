"""What the detectors find: a problem, the facts of the enterprise it is about, the snapshot of
an earlier report, and the grading they share. No I/O here."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from liaison_common.alert_contract import SEVERITIES
from liaison_common.events import EnterpriseReport
from services.rules.domain.thresholds import Thresholds

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


def indicator_values(snapshots: list[Snapshot], name: str) -> list[float]:
    return [s.indicators[name] for s in snapshots if s.indicators.get(name) is not None]


def evidence_of(values: dict[str, Any], threshold: Any, rule: str, source: str) -> dict[str, Any]:
    return {"values": values, "threshold": threshold, "rule": rule, "source": source}


Detector = Callable[[EnterpriseFacts, EnterpriseReport, list[Snapshot], Thresholds], Problem | None]


def report_problem(
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
