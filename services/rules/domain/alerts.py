"""From a detected problem to a routed alert (docs/contract.md §2, Alert): pure functions."""

from typing import TYPE_CHECKING, Any

from liaison_common.alert_contract import AlertEvent, ProblemEvent
from liaison_common.registry_view import RegistryView
from liaison_common.routing import DEFAULT_ROUTE_RULES, Route, RouteRule, Subject, resolve_routes
from services.rules.domain.measures import (
    RESTRUCTURING_AFTER_OCCURRENCES,
    RESTRUCTURING_TYPES,
    measures_for,
    restructuring_measure,
    restructuring_sector,
)
from services.rules.domain.problems import SUBJECT_FIELDS

if TYPE_CHECKING:
    from services.rules.domain.cases import CaseUpdate
    from services.rules.domain.problems import EnterpriseFacts, Problem


def alert_id(problem: dict[str, Any]) -> str:
    """Deterministic: the same problem of the same subject in the same period, the same id.

    An incident is its own problem, so its id carries the incident id as well.
    """
    subject = problem.get("enterprise_id") or problem.get("work_group_id") or problem.get("region")
    base = f"{problem['type']}.{subject}.{problem['period_end']}"
    if problem["type"] == "major_incident":
        return f"{base}.{problem['source_ids'][0]}"
    return base


def route_rule(view: RegistryView, problem_type: str) -> RouteRule:
    """The registry's routing rule for the type (admins may change it), else the contract's default."""
    data = view.get("routing_rule", problem_type)
    if data is None:
        return DEFAULT_ROUTE_RULES[problem_type]
    return RouteRule(
        problem_type=problem_type,
        primary=data["primary"],
        cc=tuple(data.get("cc") or ()),
        cc_when_sme=tuple(data.get("cc_when_sme") or ()),
        description=data.get("description") or "",
    )


def subject_of(view: RegistryView, problem: dict[str, Any]) -> Subject:
    if problem.get("enterprise_id"):
        enterprise = view.get("enterprise", problem["enterprise_id"]) or {}
        return Subject(
            id=problem["enterprise_id"],
            kind="enterprise",
            is_sme=bool(enterprise.get("is_sme")),
            work_group_ids=tuple(enterprise.get("work_group_ids") or ()),
        )
    if problem.get("region"):
        return Subject(id=problem["region"], kind="region")
    return Subject(id=problem["work_group_id"], kind="work_group")


def restructuring_route(
    problem: dict[str, Any], view: RegistryView, case: "CaseUpdate | None"
) -> Route | None:
    """The mergers group, cc, on a halt or funding gap that lasts in a 附件7 sector (兼并重组组
    "负责推进重点行业的企业兼并重组"). Not on the first period: docs/contract.md §3's routes hold
    for every new case, and GET /v1/routes/resolve answers those."""
    if problem["type"] not in RESTRUCTURING_TYPES or not problem.get("enterprise_id") or case is None:
        return None
    if case.occurrences < RESTRUCTURING_AFTER_OCCURRENCES:
        return None
    sector = restructuring_sector(view.get("enterprise", problem["enterprise_id"]) or {})
    if sector is None or (view.count("group") and not view.has("group", "mergers")):
        return None
    return Route(
        group_id="mergers",
        role="cc",
        reason=f"附件7 {sector[0]}行业兼并重组：连续{case.occurrences}期{problem['type']}",
    )


def build_alert(
    problem: dict[str, Any],
    view: RegistryView,
    *,
    detected_at: str,
    case: "CaseUpdate | None" = None,
    correction: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The routed alert (an AlertEvent, docs/contract.md §2 and §6). With a case, the alert is that
    case: its id and first period are the case's, `last_period_end` and `occurrences` its latest."""
    routes = resolve_routes(
        route_rule(view, problem["type"]),
        subject_of(view, problem),
        incident_category=(problem.get("evidence") or {}).get("category"),
    )
    subject_kind = next((kind for kind, field in SUBJECT_FIELDS.items() if problem.get(field)), "enterprise")
    measures = measures_for(
        problem["type"],
        view,
        problem.get("enterprise_id"),
        evidence=problem.get("evidence") or {},
        subject_kind=subject_kind,
    )
    restructuring = restructuring_route(problem, view, case)
    if restructuring is not None and all(r.group_id != "mergers" for r in routes):
        routes.append(restructuring)
        measure = restructuring_measure(problem["enterprise_id"], view)
        if measure is not None:
            measures.append(measure)
    alert = {
        "alert_id": case.case_id if case else alert_id(problem),
        "type": problem["type"],
        "severity": problem["severity"],
        "period_end": case.first_period_end if case else problem["period_end"],
        "last_period_end": case.last_period_end if case else problem["period_end"],
        "occurrences": case.occurrences if case else 1,
        "detected_at": detected_at,
        "summary": problem["summary"],
        "evidence": problem["evidence"],
        "routes": [{"group_id": r.group_id, "role": r.role, "reason": r.reason} for r in routes],
        "source_ids": problem["source_ids"],
        "measures": measures,
        "state": "open",
    }
    for field in ("enterprise_id", "work_group_id", "region", "submitted_at"):
        if problem.get(field):
            alert[field] = problem[field]
    if correction is not None:
        alert["correction"] = correction
    return AlertEvent.model_validate(alert).model_dump(mode="json", exclude_none=True)


def problem_and_alert(
    problem: "Problem",
    view: RegistryView,
    *,
    detected_at: str,
    submitted_at: str | None = None,
    case: "CaseUpdate | None" = None,
    correction: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A detected problem as the problems topic carries it (ProblemEvent: a detector that built
    a problem wrongly fails here) and its routed alert, from the same fields."""
    fields = problem.as_dict()
    if submitted_at is not None:
        fields["submitted_at"] = submitted_at
    value = ProblemEvent.model_validate(fields).model_dump(mode="json", exclude_none=True)
    alert = build_alert(value, view, detected_at=detected_at, case=case, correction=correction)
    return value, alert


def resolution_alert(
    facts: "EnterpriseFacts",
    case: "CaseUpdate",
    view: RegistryView,
    *,
    report_id: str,
    detected_at: str,
    subject_kind: str = "enterprise",
    summary: str = "连续两期报告未再出现该问题，按数据办结",
) -> dict[str, Any]:
    """The message that closes a case whose problem was absent from two reports in a row (the
    subject's reports: an enterprise's, or a work group's for its province-wide figures), or a
    data query whose figures the next report confirmed (`summary` says which)."""
    return _case_change_alert(
        facts,
        case,
        view,
        subject_kind=subject_kind,
        detected_at=detected_at,
        summary=f"{facts.name}：{summary}",
        evidence={"rule": "连续两期报告未再出现该问题", "source": "平台规则：连续两期未再出现即办结"},
        source_ids=[report_id],
        state="resolved",
        resolved_by="data",
    )


def withdrawal_alert(
    facts: "EnterpriseFacts",
    case: "CaseUpdate",
    view: RegistryView,
    *,
    correction: dict[str, Any],
    detected_at: str,
    subject_kind: str = "enterprise",
) -> dict[str, Any]:
    """A correction no longer shows the case's problem in its period (docs/contract.md §7): the case
    is withdrawn whole (resolved by correction) when that was its only period, else recounted."""
    whole = case.change == "withdrawn"
    period = correction["period_end"]
    # docs/contract.md §7: a correction resolves a data query "by data"; any other case it
    # withdraws is resolved by correction.
    resolved_by = ("data" if case.problem_type == "data_query" else "correction") if whole else None
    return _case_change_alert(
        facts,
        case,
        view,
        subject_kind=subject_kind,
        detected_at=detected_at,
        summary=f"{facts.name}更正了截至{period}的报告，该期不再显示此问题"
        + ("，预警撤回" if whole else f"，计为{case.occurrences}期"),
        evidence={
            "rule": "更正报告替换原报告的数据，按更正后的数据重新判断",
            "source": "docs/contract.md §7：更正",
            "replaced_report_id": correction["replaces"],
        },
        source_ids=[correction["report_id"]],
        state="resolved" if whole else "open",
        correction={**correction, "withdrawn": True},
        resolved_by=resolved_by,
    )


def _case_change_alert(
    facts: "EnterpriseFacts",
    case: "CaseUpdate",
    view: RegistryView,
    *,
    subject_kind: str,
    detected_at: str,
    summary: str,
    evidence: dict[str, Any],
    source_ids: list[str],
    state: str,
    **fields: Any,
) -> dict[str, Any]:
    """A case's message when data, not a detection, changes it (resolved, withdrawn, recounted):
    routed afresh like a detection, severity low, the case's span and count as they are now."""
    subject_field = SUBJECT_FIELDS[subject_kind]
    problem = {"type": case.problem_type, subject_field: facts.id}
    routes = resolve_routes(route_rule(view, case.problem_type), subject_of(view, problem))
    alert = {
        "alert_id": case.case_id,
        "type": case.problem_type,
        "severity": "low",
        subject_field: facts.id,
        "period_end": case.first_period_end,
        "last_period_end": case.last_period_end,
        "occurrences": case.occurrences,
        "detected_at": detected_at,
        "summary": summary,
        "evidence": evidence,
        "routes": [{"group_id": r.group_id, "role": r.role, "reason": r.reason} for r in routes],
        "source_ids": source_ids,
        "state": state,
        **{name: value for name, value in fields.items() if value is not None},
    }
    return AlertEvent.model_validate(alert).model_dump(mode="json", exclude_none=True)
