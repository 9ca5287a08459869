"""Event contracts of docs/contract.md §2: the one source of truth.

`schemas/*.schema.json` are generated from these models (`make schemas`), and a test fails
when the two drift. Validation is strict: unknown fields and unknown indicators are errors,
quantities are numbers (not strings, not booleans) and non-negative, timestamps carry a zone.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

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
# docs/contract.md §6: every indicator a finite number, at most 1e12 (larger values overflow the
# detectors' means and are never a real week of a Qinghai enterprise).
MAX_QUANTITY = 1e12
Quantity = Annotated[float, Field(strict=True, ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
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


# A change of a flow against plan, m³/s, either way (the Yellow River's largest flows are ~5,000).
FlowChange = Annotated[float, Field(strict=True, ge=-100_000, le=100_000, allow_inf_nan=False)]


class WorkgroupIndicators(Contract):
    """The province-wide figures of 附件1 that the rail and power work groups report (optional,
    additive to the contract's work-group report); rules tracks each against its target's pace."""

    rail_freight_ytd_t: Quantity | None = Field(
        None, description="rail freight in the province this year so far, tonnes (附件1 四: 3800万吨)"
    )
    road_rail_ytd_t: Quantity | None = Field(
        None, description="road-rail (公铁联运、公铁分流) this year so far, tonnes (附件1 四: 700万吨)"
    )
    purchased_power_mwh: Quantity | None = Field(
        None,
        description="purchased power delivered so far this winter, MWh (附件1 三: 45亿千瓦时)",
    )
    longyangxia_outflow_increase_m3_s: FlowChange | None = Field(
        None, description="龙羊峡 outflow above the plan before the increase, m³/s (附件1 三: 50)"
    )


WORKGROUP_INDICATOR_NAMES = tuple(WorkgroupIndicators.model_fields)


class StatedProblem(Contract):
    category: ProblemCategory
    text: LongText


# docs/contract.md §6, bounds on dates: a replay of 2011 is in bounds, year 1 or 2099 is not.
EARLIEST_PERIOD = date(2000, 1, 1)
MAX_PERIOD_DAYS = 31
FUTURE_SLACK = timedelta(days=1)


def _not_in_the_future(moment: datetime, name: str) -> datetime:
    latest = datetime.now(UTC) + FUTURE_SLACK
    if moment > latest:
        raise ValueError(f"{name} {moment.isoformat()} is more than a day in the future")
    return moment


class _Period(Contract):
    # submitted_at comes first so that period_end's check can see it.
    submitted_at: AwareDatetime
    period_start: date = Field(ge=EARLIEST_PERIOD)
    period_end: date = Field(ge=EARLIEST_PERIOD)

    @field_validator("period_end")
    @classmethod
    def _period_in_order(cls, period_end: date, info: ValidationInfo) -> date:
        period_start = info.data.get("period_start")
        if period_start is not None and period_end < period_start:
            raise ValueError(f"period_end {period_end} is before period_start {period_start}")
        if period_start is not None and (period_end - period_start).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days long")
        submitted_at = info.data.get("submitted_at")
        if submitted_at is not None and period_end > submitted_at.date() + FUTURE_SLACK:
            raise ValueError(
                f"period_end {period_end} is later than the day after submitted_at "
                f"({submitted_at.date()}): a report covers a period that has ended"
            )
        return period_end

    @field_validator("submitted_at")
    @classmethod
    def _submitted_not_in_the_future(cls, submitted_at: datetime) -> datetime:
        return _not_in_the_future(submitted_at, "submitted_at")


class EnterpriseReport(_Period):
    """An enterprise's weekly report (production, sales, inventory, funding, transport)."""

    kind: Literal["enterprise_report"] = "enterprise_report"
    report_id: SubmissionId
    enterprise_id: Slug
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

    @field_validator("occurred_at")
    @classmethod
    def _occurred_not_in_the_future(cls, occurred_at: datetime) -> datetime:
        return _not_in_the_future(occurred_at, "occurred_at")

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
    progress: LongText = ""
    open_problems: list[OpenProblem] = Field(default_factory=list, max_length=200)
    indicators: WorkgroupIndicators = Field(default_factory=WorkgroupIndicators)

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
            kind="enterprise_report",
            model=EnterpriseReport,
            id_field="report_id",
            subject_field="enterprise_id",
            subject_type="enterprise",
            topic=topics.REPORTS,
        ),
        "incident": SubmissionKind(
            kind="incident",
            model=Incident,
            id_field="incident_id",
            subject_field="enterprise_id",
            subject_type="enterprise",
            topic=topics.INCIDENTS,
        ),
        "workgroup_report": SubmissionKind(
            kind="workgroup_report",
            model=WorkgroupReport,
            id_field="report_id",
            subject_field="work_group_id",
            subject_type="work_group",
            topic=topics.WORKGROUP_REPORTS,
        ),
    }


SUBMISSION_KINDS: dict[str, SubmissionKind] = _kinds()
