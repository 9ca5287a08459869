"""Who receives an alert: the routes of docs/contract.md §3, as pure functions.

The registry's resolve endpoint and the rules service share this code, so a route test
and a real alert can never disagree.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from liaison_common.labels import problem_type_label

PROBLEM_TYPES = (
    "stockpile",
    "funding_gap",
    "transport_backlog",
    "power_shortage",
    "energy_overuse",
    "growth_shortfall",
    "production_halt",
    "workforce_cut",
    "report_overdue",
    "major_incident",
    # Not in docs/contract.md §3: a problem a report states under `policy` or `other`, which no
    # type there matches. It goes to the comprehensive group, which collects such information.
    "stated_problem",
    # docs/contract.md §7: an implausible figure questioned before detection (DHIS2's outlier checks).
    "data_query",
)


@dataclass(frozen=True)
class RouteRule:
    """Default recipients of one problem type."""

    problem_type: str
    primary: str
    cc: tuple[str, ...] = ()
    # Extra cc recipients when the enterprise is a small or medium enterprise.
    cc_when_sme: tuple[str, ...] = ()
    description: str = ""


# docs/contract.md §3, "Problem types and their default routes".
DEFAULT_ROUTE_RULES: Mapping[str, RouteRule] = {
    rule.problem_type: rule
    for rule in (
        RouteRule(
            problem_type="stockpile",
            primary="industry-matching",
            cc=("operations",),
            description="产品积压：库存过高或产销率偏低",
        ),
        RouteRule(
            problem_type="funding_gap",
            primary="finance",
            cc=("wg-credit",),
            cc_when_sme=("sme",),
            description="资金缺口：流动资金需求超过现金与可用授信",
        ),
        RouteRule(
            problem_type="transport_backlog",
            primary="operations",
            cc=("wg-rail",),
            description="运输积压：铁路运力不足",
        ),
        RouteRule(
            problem_type="power_shortage",
            primary="operations",
            cc=("wg-power",),
            description="电力短缺：供电不足或电煤库存偏低",
        ),
        RouteRule(
            problem_type="energy_overuse",
            primary="tech-renovation",
            description="能耗超标：单位电耗或粉尘排放超过附件3限值",
        ),
        RouteRule(
            problem_type="growth_shortfall",
            primary="operations",
            cc=("comprehensive",),
            description="增速低于附件1目标",
        ),
        RouteRule(
            problem_type="production_halt",
            primary="operations",
            cc=("enterprise-management",),
            description="停产减产",
        ),
        RouteRule(
            problem_type="workforce_cut", primary="enterprise-management", description="减员或拖欠工资"
        ),
        RouteRule(
            problem_type="report_overdue", primary="comprehensive", cc=("wg-liaison",), description="逾期未报"
        ),
        RouteRule(
            problem_type="major_incident",
            primary="comprehensive",
            cc=("operations",),
            description="重大事项、突发事件",
        ),
        RouteRule(
            problem_type="stated_problem", primary="comprehensive", description="企业报告的政策或其他问题"
        ),
        # docs/contract.md §7: 统计工作组 "指导和帮助工业企业提高科学统计水平"; wg-liaison follows by
        # its link to the key enterprises.
        RouteRule(problem_type="data_query", primary="wg-statistics", description="数据核查：填报数值异常"),
    )
}


# docs/contract.md §7: a major incident adds, by its category, the group the seed sends it to.
INCIDENT_CATEGORY_CC: Mapping[str, tuple[str, str]] = {
    "safety": ("enterprise-management", "安全类重大事项：附件8“及时上报企业管理组”"),
    "environment": ("tech-renovation", "环境类重大事项：技改组负责节能减排与环境治理改造"),
}


@dataclass(frozen=True)
class Subject:
    """What an alert is about: an enterprise (with its links) or a work group."""

    id: str
    kind: str = "enterprise"  # or "work_group"
    is_sme: bool = False
    work_group_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Route:
    group_id: str
    role: str  # "primary" or "cc"
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"group_id": self.group_id, "role": self.role, "reason": self.reason}


def resolve_routes(rule: RouteRule, subject: Subject, *, incident_category: str | None = None) -> list[Route]:
    """The primary group first, then each cc once, in the contract's order.

    A group already named keeps its first role: a work group that is both the rule's cc
    and linked to the enterprise is listed once, with the rule as the reason. A work group's
    overdue report goes to the primary group alone (docs/contract.md §7: wg-liaison follows the key
    enterprises, not the work groups).
    """
    kind = problem_type_label(rule.problem_type)  # the reason is read in the console, in Chinese
    routes: list[Route] = [Route(group_id=rule.primary, role="primary", reason=f"{kind}的牵头组")]
    if rule.problem_type == "report_overdue" and subject.kind == "work_group":
        return routes
    candidates: list[tuple[str, str]] = [(g, f"{kind}的抄送组") for g in rule.cc]
    by_category = INCIDENT_CATEGORY_CC.get(incident_category or "")
    if rule.problem_type == "major_incident" and by_category is not None:
        candidates.append(by_category)
    if subject.kind == "enterprise" and subject.is_sme:
        candidates += [(g, f"中小企业的{kind}：抄送中小企业组") for g in rule.cc_when_sme]
    if subject.kind == "enterprise":
        candidates += [(g, "本企业的联点工作组") for g in subject.work_group_ids]
    elif subject.kind == "work_group":
        candidates.append((subject.id, "本工作组的事项"))
    seen = {rule.primary}
    for group_id, reason in candidates:
        if group_id not in seen:
            seen.add(group_id)
            routes.append(Route(group_id=group_id, role="cc", reason=reason))
    return routes
