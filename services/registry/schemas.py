"""HTTP request and response shapes: XCreate (POST), XUpdate (PATCH), XRead (answers)."""

import copy
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator
from pydantic_core import PydanticCustomError

from liaison_common.events import INDICATOR_NAMES
from liaison_common.routing import PROBLEM_TYPES
from liaison_common.tokens import SUBJECT_TYPES

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=80)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=5000)]
ProblemType = Literal[PROBLEM_TYPES]  # type: ignore[valid-type]


class StrictModel(BaseModel):
    # Unknown fields are errors, so a typo never silently drops data.
    model_config = ConfigDict(extra="forbid")


class UnitCreate(StrictModel):
    id: Slug
    name: Name
    kind: Literal["department", "division", "association", "enterprise", "collective"] | None = None
    parent_id: Slug | None = None
    enterprise_id: Slug | None = None
    # The department's duties as the main text gives them (（十）明确省级部门职责), verbatim.
    duties: Text | None = None


class GroupCreate(StrictModel):
    id: Slug
    name: Name
    number: int | None = Field(default=None, ge=1, le=1000)
    name_en: Name | None = None
    leader: Name | None = None
    lead_unit_id: Slug | None = None
    member_unit_ids: list[Slug] = Field(default_factory=list, max_length=200)
    duties: Text | None = None
    # The main text's own name and sentence for the group (（十）明确各协调组职责和任务), beside
    # annex 2's: it names other leads for some (金融组 "由省金融办、中国人民银行西宁中心支行牵头").
    main_text_name: Name | None = None
    main_text: Text | None = None
    # The group's own timers for its cases (as primary group); unset: notify's defaults. Hours
    # before an unacknowledged high case escalates to 综合组, between reminders after that, and
    # before an acknowledged case left unresolved is opened again. At most 92 days.
    escalation_hours: float | None = Field(default=None, gt=0, le=2208)
    reminder_hours: float | None = Field(default=None, gt=0, le=2208)
    ack_timeout_hours: float | None = Field(default=None, gt=0, le=2208)


class WorkGroupCreate(StrictModel):
    id: Slug
    name: Name
    number: int | None = Field(default=None, ge=1, le=1000)
    short_name: Name | None = None
    name_en: Name | None = None
    lead_unit_ids: list[Slug] = Field(default_factory=list, max_length=50)
    participant_unit_ids: list[Slug] = Field(default_factory=list, max_length=200)
    duties: Text | None = None


class EnterpriseCreate(StrictModel):
    id: Slug
    name: Name
    aliases: list[Name] = Field(default_factory=list, max_length=50)
    is_key: bool = False
    work_group_ids: list[Slug] = Field(default_factory=list, max_length=50)
    industry: Name | None = None
    main_product: Name | None = None
    region: Name | None = None
    # Where the region comes from: the seed (a place in the enterprise's name) or a public record.
    region_source: Text | None = None
    is_sme: bool = False
    sources: list[Name] = Field(default_factory=list, max_length=50)


class MatchmakingEventCreate(StrictModel):
    """One of the matchmaking events of 附件6 (重大对接活动实施方案), as the seed plans it."""

    id: Slug
    name: Name
    number: int | None = Field(default=None, ge=1, le=1000)
    ref: Name | None = None  # its place in the seed, e.g. "附件6 二（一）"
    hosts: Text | None = None  # 主办单位, verbatim
    host_unit_ids: list[Slug] = Field(default_factory=list, max_length=50)
    host_enterprise_ids: list[Slug] = Field(default_factory=list, max_length=50)
    participants: Text | None = None  # 参加单位, verbatim
    date: Name | None = None  # ISO date of the plan ("2011-12-19")
    date_text: Text | None = None  # 活动时间, verbatim ("拟定于2011年12月19日前…")
    # "by": the seed's "拟定于…前" is a deadline (held by that day); "on": "定于…举办" (that day)
    date_kind: Literal["by", "on"] | None = None
    group_id: Slug | None = None  # the coordination group that follows it up


class ContactCreate(StrictModel):
    id: Slug
    enterprise_id: Slug
    name: Name
    title: Name | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class RoutingRuleCreate(StrictModel):
    id: ProblemType  # the problem type this rule routes
    primary: Slug
    cc: list[Slug] = Field(default_factory=list, max_length=50)
    cc_when_sme: list[Slug] = Field(default_factory=list, max_length=50)
    description: Text | None = None


class IndicatorRangeCreate(StrictModel):
    """docs/contract.md §7: `{id, enterprise_id, indicator, min, max}`; at least one bound, min ≤ max."""

    id: Slug
    enterprise_id: Slug
    indicator: Literal[INDICATOR_NAMES]  # type: ignore[valid-type]
    min: Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "IndicatorRangeCreate":
        if self.min is None and self.max is None:
            raise PydanticCustomError("missing", "give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("value_error", "min must not exceed max")
        return self


class SubscriptionCreate(StrictModel):
    id: Slug
    group_id: Slug
    channel: Literal["webhook", "email", "inbox"]
    target: Annotated[str, StringConstraints(max_length=500)] | None = None
    enabled: bool = True
    # The webhook's own HMAC signing key; generated when a webhook subscription is created
    # without one, and shown to the admin and the owning group only.
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None
    # The 组长's own channel: it gets nothing but the reminders of the group's cases that stay
    # unacknowledged after the escalation to 综合组 (escalation level 2 and on).
    leader: bool = False


def _update_model(create: type[StrictModel]) -> type[StrictModel]:
    """The PATCH shape: every field of the create shape but the id, all optional, each with the
    create shape's bounds (a PATCH with a value the create shape refuses is a 422, never stored)."""
    fields: dict[str, Any] = {}
    for name, info in create.model_fields.items():
        annotation: Any = info.annotation
        if name != "id":
            optional = copy.copy(info)
            optional.default, optional.default_factory = None, None
            fields[name] = (annotation | None, optional)
    return create_model(create.__name__.replace("Create", "Update"), __base__=StrictModel, **fields)


UnitUpdate = _update_model(UnitCreate)
GroupUpdate = _update_model(GroupCreate)
WorkGroupUpdate = _update_model(WorkGroupCreate)
EnterpriseUpdate = _update_model(EnterpriseCreate)
ContactUpdate = _update_model(ContactCreate)
MatchmakingEventUpdate = _update_model(MatchmakingEventCreate)
RoutingRuleUpdate = _update_model(RoutingRuleCreate)
SubscriptionUpdate = _update_model(SubscriptionCreate)
IndicatorRangeUpdate = _update_model(IndicatorRangeCreate)


class Versioned(BaseModel):
    version: int
    updated_at: datetime | None = None


class UnitRead(UnitCreate, Versioned):
    pass


class GroupRead(GroupCreate, Versioned):
    lead_unit: str | None = None
    member_units: list[str] = Field(default_factory=list)


class WorkGroupRead(WorkGroupCreate, Versioned):
    lead_units: list[str] = Field(default_factory=list)
    participant_units: list[str] = Field(default_factory=list)
    enterprise_ids: list[str] = Field(default_factory=list)


class EnterpriseRead(EnterpriseCreate, Versioned):
    pass


class ContactRead(ContactCreate, Versioned):
    pass


class MatchmakingEventRead(MatchmakingEventCreate, Versioned):
    pass


class RoutingRuleRead(RoutingRuleCreate, Versioned):
    pass


class IndicatorRangeRead(IndicatorRangeCreate, Versioned):
    pass


class SubscriptionRead(SubscriptionCreate, Versioned):
    pass


class RouteRead(BaseModel):
    group_id: str
    role: Literal["primary", "cc"]
    reason: str


class ResolveRead(BaseModel):
    type: str
    enterprise_id: str | None = None
    work_group_id: str | None = None
    routes: list[RouteRead]


class TokenCreate(StrictModel):
    subject_type: Literal[SUBJECT_TYPES]  # type: ignore[valid-type]
    subject_id: Slug
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    description: Annotated[str, StringConstraints(max_length=200)] = ""


class TokenRead(BaseModel):
    token_id: str
    subject_type: str
    subject_id: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    description: str = ""


class TokenIssued(TokenRead):
    token: str = Field(description="The secret; shown once, stored only as a hash.")
