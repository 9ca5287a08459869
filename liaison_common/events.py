"""Event contracts of CONTRACT.md §2: the one source of truth.

`schemas/*.schema.json` are generated from these models (`make schemas`), and a test fails
when the two drift. Validation is strict: unknown fields and unknown indicators are errors,
quantities are numbers (not strings, not booleans) and non-negative, timestamps carry a zone.
"""

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=80)]
# Submission ids: letters, digits and . _ : - (for example chalco-qinghai-2011-W50).
SubmissionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", max_length=120)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
Quantity = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Percent = Annotated[float, Field(strict=True, ge=-100, le=10_000, allow_inf_nan=False)]

PROBLEM_CATEGORIES = (
    "market",
    "funding",
    "transport",
    "power",
    "energy",
    "workforce",
    "production",
    "policy",
    "other",
)
INCIDENT_CATEGORIES = ("safety", "environment", "supply", "production", "other")
ProblemCategory = Literal[PROBLEM_CATEGORIES]  # type: ignore[valid-type]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Indicators(Contract):
    """The weekly indicators; every one optional; the unit is part of the name."""

    output_value: Quantity | None = Field(None, description="industrial output value in the period, 万元")
    output_value_yoy_pct: Percent | None = Field(
        None, description="growth over the same period a year before, %"
    )
    production_t: Quantity | None = Field(None, description="output in the period, tonnes")
    sales_t: Quantity | None = Field(None, description="sales in the period, tonnes")
    inventory_t: Quantity | None = Field(None, description="finished-goods stock at period end, tonnes")
    cash_on_hand: Quantity | None = Field(None, description="万元")
    working_capital_need: Quantity | None = Field(None, description="need in the next 30 days, 万元")
    credit_available: Quantity | None = Field(None, description="万元")
    receivables_overdue: Quantity | None = Field(None, description="万元")
    wage_arrears: Quantity | None = Field(None, description="万元")
    rail_requested_t: Quantity | None = Field(None, description="tonnes")
    rail_shipped_t: Quantity | None = Field(None, description="tonnes")
    awaiting_shipment_t: Quantity | None = Field(None, description="tonnes")
    power_demand_mwh: Quantity | None = Field(None, description="MWh in the period")
    power_supplied_mwh: Quantity | None = Field(None, description="MWh in the period")
    coal_stock_days: Quantity | None = Field(None, description="days of thermal coal in stock")
    energy_kwh_per_t: Quantity | None = Field(None, description="electricity per tonne of main product, kWh")
    dust_mg_m3: Quantity | None = Field(None, description="dust emission concentration, mg/m³")
    employees: Quantity | None = Field(None, description="headcount at period end")
    lines_halted: Quantity | None = Field(None, description="production lines stopped at period end")


INDICATOR_NAMES = tuple(Indicators.model_fields)


class StatedProblem(Contract):
    category: ProblemCategory
    text: LongText


class _Period(Contract):
    period_start: date
    period_end: date

    @field_validator("period_end")
    @classmethod
    def _period_in_order(cls, period_end: date, info: ValidationInfo) -> date:
        period_start = info.data.get("period_start")
        if period_start is not None and period_end < period_start:
            raise ValueError(f"period_end {period_end} is before period_start {period_start}")
        return period_end


class EnterpriseReport(_Period):
    """An enterprise's weekly report (production, sales, inventory, funding, transport)."""

    kind: Literal["enterprise_report"] = "enterprise_report"
    report_id: SubmissionId
    enterprise_id: Slug
    submitted_at: AwareDatetime
    reporter: ShortText = ""
    indicators: Indicators = Field(default_factory=lambda: Indicators())
    problems: list[StatedProblem] = Field(default_factory=list, max_length=50)
    notes: LongText = ""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "enterprise_report",
                    "report_id": "chalco-qinghai-2011-W50",
                    "enterprise_id": "chalco-qinghai",
                    "period_start": "2011-12-12",
                    "period_end": "2011-12-18",
                    "submitted_at": "2011-12-19T09:30:00+08:00",
                    "reporter": "联络员姓名",
                    "indicators": {"production_t": 9800, "sales_t": 7600, "inventory_t": 31000},
                    "problems": [{"category": "transport", "text": "钾肥待运积压"}],
                    "notes": "",
                }
            ]
        }
    )


class Incident(Contract):
    """A major incident, reported at once (限时报送), never batched with the weekly report."""

    kind: Literal["incident"] = "incident"
    incident_id: SubmissionId
    enterprise_id: Slug
    occurred_at: AwareDatetime
    category: Literal[INCIDENT_CATEGORIES]  # type: ignore[valid-type]
    severity: Literal["major", "critical"]
    summary: LongText = Field(min_length=1)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "incident",
                    "incident_id": "qinghai-salt-lake-2011-12-20-01",
                    "enterprise_id": "qinghai-salt-lake",
                    "occurred_at": "2011-12-20T14:05:00+08:00",
                    "category": "supply",
                    "severity": "major",
                    "summary": "暴雪致铁路中断，钾肥发运停止",
                }
            ]
        }
    )


class OpenProblem(Contract):
    enterprise_id: Slug
    category: ProblemCategory
    text: LongText


class WorkgroupReport(_Period):
    """A work group's weekly report to the comprehensive group (附件2 四.5)."""

    kind: Literal["workgroup_report"] = "workgroup_report"
    report_id: SubmissionId
    work_group_id: Slug
    submitted_at: AwareDatetime
    progress: LongText = ""
    open_problems: list[OpenProblem] = Field(default_factory=list, max_length=200)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "workgroup_report",
                    "report_id": "wg-rail-2011-W50",
                    "work_group_id": "wg-rail",
                    "period_start": "2011-12-12",
                    "period_end": "2011-12-18",
                    "submitted_at": "2011-12-19T17:00:00+08:00",
                    "progress": "组织钾肥突击抢运，本周发运12万吨",
                    "open_problems": [
                        {"enterprise_id": "qinghai-salt-lake", "category": "transport", "text": "车皮不足"}
                    ],
                }
            ]
        }
    )


Submission = EnterpriseReport | Incident | WorkgroupReport


@dataclass(frozen=True)
class SubmissionKind:
    """How each kind of submission is identified, keyed and routed to its topic."""

    kind: str
    model: type[Contract]
    id_field: str
    subject_field: str  # enterprise_id or work_group_id: the Kafka key
    subject_type: str  # "enterprise" or "work_group": who may submit it
    topic: str


def _kinds() -> dict[str, SubmissionKind]:
    from liaison_common import topics

    return {
        "enterprise_report": SubmissionKind(
            kind="enterprise_report", model=EnterpriseReport, id_field="report_id",
            subject_field="enterprise_id", subject_type="enterprise", topic=topics.REPORTS,
        ),
        "incident": SubmissionKind(
            kind="incident", model=Incident, id_field="incident_id",
            subject_field="enterprise_id", subject_type="enterprise", topic=topics.INCIDENTS,
        ),
        "workgroup_report": SubmissionKind(
            kind="workgroup_report", model=WorkgroupReport, id_field="report_id",
            subject_field="work_group_id", subject_type="work_group", topic=topics.WORKGROUP_REPORTS,
        ),
    }  # fmt: skip


SUBMISSION_KINDS: dict[str, SubmissionKind] = _kinds()

SCHEMA_FILES = {
    "enterprise_report": "enterprise_report.schema.json",
    "incident": "incident.schema.json",
    "workgroup_report": "workgroup_report.schema.json",
}


def json_schema(kind: str) -> dict[str, Any]:
    schema = SUBMISSION_KINDS[kind].model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:liaison:schemas:v1:{kind}",
        **schema,
    }


def render_schema(kind: str) -> str:
    return json.dumps(json_schema(kind), ensure_ascii=False, indent=2) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for kind, filename in SCHEMA_FILES.items():
        path = directory / filename
        path.write_text(render_schema(kind), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")
    for path in write_schemas(target):
        print(f"wrote {path}")
