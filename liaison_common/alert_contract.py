"""The contract of problems and alerts (rules → notify, docs/contract.md §2–3): severities, routes,
measures, corrections, ProblemEvent and AlertEvent. `schemas/alert.schema.json` and
`schemas/problem.schema.json` are generated from these models (liaison_common/schema_files.py)."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from liaison_common.events import LongText, ShortText, Slug


class Severity(StrEnum):
    """The four severities, in rising order (docs/contract.md §2)."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)


def severity_rank(severity: object) -> int:
    """A severity's place in rising order; -1 for none or an unknown one."""
    return SEVERITIES.index(severity) if isinstance(severity, str) and severity in SEVERITIES else -1


class Route(BaseModel):
    model_config = ConfigDict(extra="ignore")

    group_id: Slug
    role: Literal["primary", "cc"] = "primary"
    reason: ShortText = ""


class Measure(BaseModel):
    """One of the seed's measures that applies to a problem (docs/contract.md §6)."""

    model_config = ConfigDict(extra="ignore")

    ref: ShortText
    quote: LongText
    units: list[ShortText] = Field(default_factory=list, max_length=50)
    action: LongText = ""
    # 产业对接: the registry's enterprises the measure proposes as partners (downstream firms).
    partners: list[Slug] = Field(default_factory=list, max_length=100)


class Correction(BaseModel):
    """What a correction did to a case (docs/contract.md §7)."""

    model_config = ConfigDict(extra="ignore")

    report_id: Annotated[str, StringConstraints(max_length=300)]
    replaces: Annotated[str, StringConstraints(max_length=300)]
    period_end: Annotated[str, StringConstraints(max_length=40)]
    withdrawn: bool = False


class ProblemEvent(BaseModel):
    """A detected problem on liaison.problems.v1, before routing (docs/contract.md §2 and §3).

    Rules builds it from each detector's finding; the routed AlertEvent follows from it.
    """

    type: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    severity: Severity
    enterprise_id: Slug | None = None
    work_group_id: Slug | None = None
    # docs/contract.md §7: a region's growth case names the region (enterprise_id absent).
    region: ShortText | None = None
    period_end: Annotated[str, StringConstraints(max_length=40)]
    summary: LongText
    evidence: dict[str, Any] = Field(default_factory=dict)
    source_ids: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, max_length=1000
    )
    submitted_at: Annotated[str, StringConstraints(max_length=64)] | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "funding_gap",
                    "severity": "high",
                    "enterprise_id": "huading-industrial",
                    "period_end": "2011-12-18",
                    "summary": "青海华鼎实业股份有限公司资金缺口 2700万元",
                    "evidence": {"values": {"gap": 2700}, "rule": "need − cash − credit > 0"},
                    "source_ids": ["huading-2011-W50"],
                    "submitted_at": "2011-12-19T09:30:00+08:00",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _one_subject(self) -> "ProblemEvent":
        if [self.enterprise_id, self.work_group_id, self.region].count(None) != 2:
            raise ValueError("a problem names one of enterprise_id, work_group_id or region")
        return self


class AlertEvent(BaseModel):
    """A routed alert on liaison.alerts.v1: one case (docs/contract.md §2 and §6).

    Rules builds it, notify parses it. `state` is `open` while the problem is detected and
    `resolved` once it was absent from two consecutive reports (resolved by data).
    """

    alert_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    severity: Severity
    enterprise_id: Slug | None = None
    work_group_id: Slug | None = None
    region: ShortText | None = None
    period_end: Annotated[str, StringConstraints(max_length=40)] = ""
    last_period_end: Annotated[str, StringConstraints(max_length=40)] | None = None
    occurrences: Annotated[int, Field(ge=1, le=100_000)] = 1
    detected_at: Annotated[str, StringConstraints(max_length=64)] = ""
    submitted_at: Annotated[str, StringConstraints(max_length=64)] | None = None
    summary: LongText = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    routes: list[Route] = Field(min_length=1, max_length=100)
    source_ids: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, max_length=1000
    )
    measures: list[Measure] = Field(default_factory=list, max_length=50)
    state: Literal["open", "resolved"] = "open"
    resolved_by: Literal["group", "data", "correction"] | None = None
    # docs/contract.md §7: set when a correction of a period changed the case: the correcting report,
    # the report it replaced and the period (`withdrawn`: the problem is no longer shown there).
    correction: Correction | None = None

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "alert_id": "funding_gap.huading-industrial.2011-12-18",
                    "type": "funding_gap",
                    "severity": "high",
                    "enterprise_id": "huading-industrial",
                    "period_end": "2011-12-18",
                    "last_period_end": "2012-01-01",
                    "occurrences": 3,
                    "detected_at": "2012-01-02T09:31:02+00:00",
                    "summary": "青海华鼎实业股份有限公司资金缺口 2700万元",
                    "evidence": {"gap": 2700, "rule": "need − cash − credit > 0"},
                    "routes": [{"group_id": "finance", "role": "primary"}, {"group_id": "sme", "role": "cc"}],
                    "source_ids": ["huading-2012-W01"],
                    "measures": [],
                    "state": "open",
                }
            ]
        },
    )
